"""test_references.py - every citation of Flagger's behaviour in the code
resolves inside the repository: each "reference §N" or "(§N)" in src/,
tests/ and fuzz/ names a section heading of docs/flagger-behaviour.md
(`## N.` or `### N `), and no comment points at a file outside the
repository (reference/flagger-behaviour.md, ../shared/reference). Citations
of other documents (YAML 1.2 §5.1, an RFC's section) are told apart by
that document's name earlier on the same line."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, summary  # noqa: E402

SRC = os.environ.get("CANARYD_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PAGE = os.path.join(SRC, "docs", "flagger-behaviour.md")
OTHER_DOCS = re.compile(r"(YAML 1\.2|RFC ?\d+|HTTP/1\.1|ECMA|ISO)\b")

headings = set()
for line in open(PAGE, encoding="utf-8"):
    m = re.match(r"#{2,4}\s+(\d+(?:\.\d+)*)[.\s]", line)
    if m:
        headings.add(m.group(1))

cited, unresolved, outside = 0, [], []
for top in ("src", "tests", "fuzz"):
    for d, _, files in os.walk(os.path.join(SRC, top)):
        for f in files:
            if not f.endswith((".c", ".h", ".py", ".sh")) or f == "test_references.py":
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, SRC)
            for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                if re.search(r"(?<!docs/)reference/flagger-behaviour\.md|shared/reference/", line):
                    outside.append("%s:%d" % (rel, n))
                for m in re.finditer(r"§\s?(\d+(?:\.\d+)*)", line):
                    if OTHER_DOCS.search(line[:m.start()]):
                        continue
                    cited += 1
                    sec = m.group(1).rstrip(".")
                    if sec not in headings:
                        unresolved.append("%s:%d: §%s" % (rel, n, sec))

check("docs/flagger-behaviour.md has its numbered sections (%d)" % len(headings), len(headings) > 40)
check("the code cites it (%d citations)" % cited, cited > 50)
check("every citation names a section of docs/flagger-behaviour.md", not unresolved, unresolved[:20])
check("no comment points at a reference outside the repository", not outside, outside[:20])
sys.exit(summary())
