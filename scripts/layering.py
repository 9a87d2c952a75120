#!/usr/bin/python3
"""layering.py - checks that every #include "..." between src/ folders is
one docs/design.md's layering table allows. The table is read from the page
(the rows between the layering markers: a folder, then the folders it may
include), so the page and the code cannot drift apart: a new dependency is
either added to the page, with its reason, or refused here.
Usage: scripts/layering.py [SRC_DIR DESIGN_MD]; prints each violation as
file:line: FOLDER includes OTHER (not in docs/design.md's layering table),
exit 1 if any. It reads files only."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- layering:begin -->", "<!-- layering:end -->"
# Cycles the table still has, each with where it is written down; printed as
# a warning until the code no longer needs them. Add none: fix the code.
KNOWN_CYCLES = {}


def unit_of(rel):
    """The layering unit of a path under src/: its top folder, the
    sub-folders of src/kube and src/router, or a top-level file (ports.h,
    mains.h...)."""
    parts = rel.split("/")
    if len(parts) == 1:
        return parts[0]
    if parts[0] in ("kube", "router") and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    return parts[0]


def read_table(design):
    text = open(design, encoding="utf-8").read()
    m = re.search(re.escape(BEGIN) + "(.*?)" + re.escape(END), text, re.S)
    if not m:
        sys.exit("%s: no layering table (markers %s ... %s)" % (design, BEGIN, END))
    allowed = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        unit = cells[0].strip("`").rstrip("/").replace("src/", "", 1)
        may = set(re.findall(r"`([^`]+)`", cells[1]))
        allowed[unit] = {u.rstrip("/").replace("src/", "", 1) for u in may}
    return allowed


def find_cycle(allowed):
    """A cycle among the table's rows (as a list of folders), or None."""
    state = {}

    def visit(u, path):
        state[u] = 1
        for v in sorted(allowed.get(u, ())):
            if frozenset({u, v}) in KNOWN_CYCLES and u in allowed.get(v, ()):
                continue
            if state.get(v) == 1:
                return path + [u, v]
            if v not in state:
                c = visit(v, path + [u])
                if c:
                    return c
        state[u] = 2
        return None

    for u in sorted(allowed):
        if u not in state:
            c = visit(u, [])
            if c:
                return c[c.index(c[-1]):]
    return None


def includes(src):
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith((".c", ".h", ".def")):
                continue
            path = os.path.join(d, f)
            for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                target = os.path.normpath(os.path.join(d, m.group(1)))
                if not os.path.exists(target):
                    target = os.path.normpath(os.path.join(src, m.group(1)))
                if not os.path.exists(target):
                    continue  # a generated header (build dir) or a system one
                yield path, n, os.path.relpath(path, src), os.path.relpath(target, src)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "src")
    design = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "design.md")
    allowed = read_table(design)
    bad = 0
    for pair, where in sorted(KNOWN_CYCLES.items(), key=lambda kv: sorted(kv[0])):
        a, b = sorted(pair)
        if b in allowed.get(a, ()) and a in allowed.get(b, ()):
            sys.stderr.write("warning: known cycle %s <-> %s (%s)\n" % (a, b, where))
    cycle = find_cycle(allowed)
    if cycle:
        print("%s: the layering table has a cycle: %s" % (design, " -> ".join(cycle)))
        bad += 1
    for path, n, rel, target in includes(src):
        a, b = unit_of(rel), unit_of(target)
        if a == b:
            continue
        if a not in allowed:
            print("%s:%d: %s is not in %s's layering table" % (path, n, a, design))
            bad += 1
        elif b not in allowed[a]:
            print("%s:%d: %s includes %s (not in %s's layering table)" % (path, n, a, target, design))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
