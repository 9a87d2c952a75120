#!/usr/bin/python3
"""test-catalogue.py - prints docs/testing.md's catalogue of the suite: every
unit test file (its cmocka cases counted), every integration test with the
first sentence of its header comment and the servers and binaries it starts,
every fuzz target. `--check docs/testing.md` fails when the page's catalogue
(between the catalogue markers) differs from what the tree holds, so the page
stays true as tests are added (it.test_docs_testing runs it).
It only reads the tree; it must not run anything."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- catalogue:begin -->", "<!-- catalogue:end -->"

# what a test starts, recognised by how the suite's helpers start it
STARTS = [
    ("real Prometheus", r"\bPrometheus\(|\[\"prometheus\"|prometheus --config"),
    ("real HAProxy", r"\bhaproxy -f|\[HAPROXY|bench/router\.sh"),
    ("real nginx", r"^\s*nginx -|\[NGINX"),
    ("fake API server", r"\bCluster\(|FakeApiServer\(|fake-apiserver|fakekube|start_fake"),
    ("canaryd kube", r"start_operator|CANARYD, \"kube\"|canaryd\"? kube\b|-kubeconfig"),
    ("canaryd local", r"CANARYD, \"local\"|^[^#]*canaryd local --|^\s*start_canaryd\b|examples/demo/run\.sh"),
    ("canaryd router", r"\bRouter\(|canaryd router|canaryd-router"),
    ("load tester", r"canaryd loadtester|CANARYD, \"loadtester\"|bench/attacks"),
    ("kubectl", r"\bkubectl\b"),
    ("helm", r"\bhelm (install|template|lint|upgrade)"),
    ("headless Chromium", r"chromium --headless|\[\"chromium\", \"--headless\""),
]


def header_sentence(path):
    """The first sentence of a test's header comment or docstring."""
    text = open(path, encoding="utf-8").read()
    if path.endswith(".py"):
        m = re.search(r'"""(.*?)"""', text, re.S)
        body = m.group(1) if m else ""
    else:
        lines = []
        for line in text.splitlines()[1:]:
            if not line.startswith("#"):
                break
            lines.append(line[1:].strip())
        body = " ".join(lines)
    body = " ".join(body.split())
    body = re.sub(r"^test_\w+\.(sh|py)\s*-\s*", "", body)
    m = re.match(r'(.+?[^"][.:])(\s|$)', body)
    s = (m.group(1) if m else body).rstrip(":.")
    return s.replace("|", "\\|")


def starts(path):
    text = open(path, encoding="utf-8").read()
    return [name for name, pat in STARTS if re.search(pat, text, re.M)] or ["nothing (binaries and files only)"]


def catalogue():
    out = [BEGIN, "", "### Unit tests (`tests/unit`, cmocka)", "",
           "| ctest name | cases |", "|---|---|"]
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/unit/test_*.c"))):
        n = os.path.basename(p)[:-2]
        cases = len(set(re.findall(r"cmocka_unit_test(?:_setup_teardown|_setup|_teardown|_prestate)?\((\w+)",
                                   open(p, encoding="utf-8").read())))
        out.append("| `unit.%s` | %d |" % (n, cases))
    out += ["", "### Integration tests (`tests/integration`)", "",
            "| ctest name | what it checks | what it starts |", "|---|---|---|"]
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/integration/test_*.*"))):
        n = os.path.splitext(os.path.basename(p))[0]
        out.append("| `it.%s` | %s | %s |" % (n, header_sentence(p), ", ".join(starts(p))))
    out += ["", "### Fuzz targets (`fuzz`, only in the `make asan` build; seeds in `fuzz/corpus/<target>/`)", ""]
    out.append(", ".join("`fuzz.%s`" % os.path.basename(p)[:-2]
                         for p in sorted(glob.glob(os.path.join(ROOT, "fuzz/fuzz_*.c")))))
    out += ["", END]
    return "\n".join(out)


def main():
    cat = catalogue()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        page = open(sys.argv[2], encoding="utf-8").read()
        m = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), page, re.S)
        if not m or m.group(0) != cat:
            sys.stderr.write("%s: the test catalogue is out of date; run scripts/test-catalogue.py "
                             "--write %s\n" % (sys.argv[2], sys.argv[2]))
            return 1
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        page = open(sys.argv[2], encoding="utf-8").read()
        new, n = re.subn(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: cat, page, flags=re.S)
        if n != 1:
            sys.stderr.write("%s: no catalogue markers\n" % sys.argv[2])
            return 1
        open(sys.argv[2], "w", encoding="utf-8").write(new)
        return 0
    print(cat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
