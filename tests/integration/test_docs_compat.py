"""test_docs_compat.py - docs/compatibility.md's "Every Flagger field" tables
cover every field and provider of Flagger's CRD (scripts/compat-table.py),
and the check fails on each kind of drift: a field without a row, a row for
a field Flagger does not have, a bad status, and a provider marked otherwise
than canaryd implements it.
"""
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("CANARYD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(SRC, "scripts", "compat-table.py")
DOC = os.path.join(SRC, "docs", "compatibility.md")

failures = []
passed = 0


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failures.append(name)
        print("FAIL " + name + (": " + detail if detail else ""))


def run(doc):
    p = subprocess.run(["/usr/bin/python3", SCRIPT, "--doc", doc],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, CANARYD_SRC=SRC))
    return p.returncode, p.stdout


def mutated(text, old, new):
    assert old in text, old
    f = tempfile.NamedTemporaryFile("w", suffix=".md", delete=False)
    f.write(text.replace(old, new, 1))
    f.close()
    return f.name


def main():
    rc, out = run(DOC)
    check("docs/compatibility.md covers Flagger's CRD", rc == 0 and "covers all" in out, out)
    with open(DOC) as f:
        text = f.read()
    cases = [
        ("a field without a row is reported with its path",
         "| `.spec.suspend` | supported | |\n", "",
         "canaries.flagger.app field .spec.suspend has no row"),
        ("a field under an \"and below\" row counts as covered only below it",
         "| `.spec.service.corsPolicy` and below |", "| `.spec.service.corsPolicy` |",
         ".spec.service.corsPolicy.maxAge has no row"),
        ("a row for a field Flagger lacks is stale",
         "| `.spec.suspend` | supported | |\n",
         "| `.spec.suspend` | supported | |\n| `.spec.suspended` | supported | |\n",
         ".spec.suspended is not a field of Flagger's canaries.flagger.app"),
        ("a status outside supported / differs / not yet is refused",
         "| `.spec.suspend` | supported | |", "| `.spec.suspend` | maybe | |",
         "status \"maybe\""),
        ("an implemented metric provider cannot be \"not yet\"",
         "| `graphite` | supported | |", "| `graphite` | not yet | |",
         "graphite is implemented"),
        ("an alert provider without a row is reported",
         "| `gchat` | supported | |\n", "", ".spec.type value gchat has no row"),
        ("a routed mesh provider cannot be \"not yet\"",
         "| `kuma` | supported | |", "| `kuma` | not yet | |", "kuma is implemented"),
        ("a mesh provider without a router cannot be \"supported\"",
         "| `appmesh` | not yet |", "| `appmesh` | supported |", "appmesh is not implemented"),
        ("a mesh provider without a row is reported",
         "| `kuma` | supported | |\n", "", ".spec.provider value kuma has no row"),
    ]
    for name, old, new, want in cases:
        path = mutated(text, old, new)
        try:
            rc, out = run(path)
        finally:
            os.unlink(path)
        check(name, rc == 1 and want in out, "rc=%d: %s" % (rc, out[:600]))
    # every metric provider is implemented now: check the reverse with a
    # source tree that lacks one (a copy of src/ without splunk.c)
    with tempfile.TemporaryDirectory() as tree:
        for d in ("providers", "notify", "kube/mesh"):
            os.makedirs(os.path.join(tree, "src", d))
            for f in os.listdir(os.path.join(SRC, "src", d)):
                if f != "splunk.c":
                    shutil.copy(os.path.join(SRC, "src", d, f), os.path.join(tree, "src", d))
        p = subprocess.run(["/usr/bin/python3", SCRIPT, "--doc", DOC],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=dict(os.environ, CANARYD_SRC=tree,
                                    CANARYD_SHARED=os.environ.get(
                                        "CANARYD_SHARED", os.path.join(SRC, "..", "shared"))))
        check("an unimplemented metric provider cannot be marked otherwise than \"not yet\"",
              p.returncode == 1 and "splunk is not implemented in src/providers" in p.stdout,
              p.stdout[:600])
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
