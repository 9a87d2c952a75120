#!/usr/bin/python3
"""bench/decision_chart.py - draws bench/decision.sh's table as an SVG chart.

Reads the table on stdin (as bench/decision.sh prints it) and writes one
self-contained SVG on stdout: for every case and rate, a bar per algorithm
(Flagger, the judge over the same windows, the judge with history, the
floor) giving the share of releases rolled back, with the mean minutes to
the decision at the end of the bar; bad releases (caught: higher is
better) and healthy ones (false rollbacks: lower is better) in two panels.
Standard library only (Debian's python3). Exits 1 when the input holds no
table row.
"""
import re
import sys
from xml.sax.saxutils import escape

ALGOS = ["flagger", "judge, same windows", "judge with history", "floor (known baseline)"]
COLOURS = ["#e6550d", "#9ecae1", "#3182bd", "#969696"]
ROW = re.compile(r"^(?P<case>.{35}) *(?P<rate>[0-9.]+) (?P<kind>false|caught) +\|(?P<rest>.*)$")
CELL = re.compile(r"^\s*(?P<share>[0-9.]+|nan)%\s+(?P<minutes>[0-9.]+|nan)\s+(?P<undec>[0-9.]+|nan)%\s*$")


def parse(lines):
    rows = []
    for line in lines:
        m = ROW.match(line.rstrip("\n"))
        if not m:
            continue
        cells = [c for c in m.group("rest").split("|") if c.strip()]
        vals = []
        for c in cells[:len(ALGOS)]:
            cm = CELL.match(c)
            if not cm:
                break
            share = float(cm.group("share"))
            minutes = float(cm.group("minutes"))
            vals.append((share, minutes))
        if len(vals) == len(ALGOS):
            rows.append({"case": m.group("case").strip(), "rate": m.group("rate"),
                         "kind": m.group("kind"), "vals": vals})
    return rows


def svg(rows, title):
    w, left, right, bar, gap_row, top = 1000, 330, 90, 10, 12, 92
    plot_w = w - left - right
    out = []
    y = top
    body = []
    for kind, head in (("caught", "Bad releases rolled back (higher is better)"),
                       ("false", "Healthy releases rolled back (lower is better)")):
        sel = [r for r in rows if r["kind"] == kind]
        if not sel:
            continue
        body.append('<g class="panel" id="panel-%s">' % kind)
        body.append('<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>'
                    % (left, y, escape(head)))
        y += 14
        for pct in (0, 25, 50, 75, 100):
            x = left + pct / 100 * plot_w
            n = len(sel) * (len(ALGOS) * bar + gap_row)
            body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>'
                        '<text x="%.1f" y="%d" font-size="10" fill="#444" text-anchor="middle">'
                        '%d%%</text>' % (x, y, x, y + n, x, y + n + 12, pct))
        for r in sel:
            label = "%s, %s req/s" % (r["case"], r["rate"])
            mid = y + len(ALGOS) * bar / 2 + 4
            body.append('<g class="row" data-case="%s" data-rate="%s">'
                        % (escape(r["case"], {'"': "&quot;"}), r["rate"]))
            body.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>'
                        % (left - 8, mid, escape(label)))
            for i, (share, minutes) in enumerate(r["vals"]):
                bw = 0 if share != share else share / 100 * plot_w
                mins = "" if minutes != minutes else "%.1f min" % minutes
                body.append('<rect class="bar" data-algorithm="%s" data-share="%s" x="%d" '
                            'y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.1f%%, %s'
                            '</title></rect>'
                            % (escape(ALGOS[i]), share, left, y, bw, bar - 1, COLOURS[i],
                               escape(ALGOS[i]), share, mins or "no decision"))
                if mins:
                    body.append('<text x="%.1f" y="%d" font-size="8" fill="#444">%s</text>'
                                % (left + bw + 3, y + bar - 1, mins))
                y += bar
            body.append("</g>")
            y += gap_row
        body.append("</g>")
        y += 40
    legend = []
    lx = left
    for i, a in enumerate(ALGOS):
        legend.append('<rect x="%d" y="60" width="12" height="12" fill="%s"/>'
                      '<text x="%d" y="70" font-size="12">%s</text>' % (lx, COLOURS[i], lx + 16,
                                                                         escape(a)))
        lx += 24 + 7 * len(a)
    h = y + 10
    out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
               'viewBox="0 0 %d %d" font-family="sans-serif">' % (w, h, w, h))
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append('<text id="title" x="%d" y="24" font-size="16" font-weight="bold">%s</text>'
               % (20, escape(title)))
    out.append('<text x="20" y="44" font-size="12" fill="#444">bar: the share of releases '
               'rolled back; label: the mean minutes from the first canary traffic to the '
               'decision</text>')
    out.append('<g id="legend">%s</g>' % "".join(legend))
    out.extend(body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    text = sys.stdin.read().splitlines()
    rows = parse(text)
    if not rows:
        sys.stderr.write("decision_chart.py: no table rows in the input\n")
        return 1
    n = next((m.group(1) for m in map(re.compile(r"^decision quality: (\d+) releases").match,
                                         text) if m), "?")
    sys.stdout.write(svg(rows, "bench/decision.sh: Flagger, canaryd's judge and the floor, "
                               "%s releases per case and rate" % n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
