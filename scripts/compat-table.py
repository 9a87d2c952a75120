#!/usr/bin/python3
"""compat-table.py - checks that docs/compatibility.md's "Every Flagger field"
tables cover Flagger's CRDs and providers, so the table cannot drift.

Every field path of ../shared/conformance/flagger/crd.yaml (Canary,
MetricTemplate, AlertProvider) must be covered by a row of its CRD's table,
either exactly (`.spec.suspend`) or by a row that says "and below"
(`.spec.service.corsPolicy` and below); every row must name a path that
exists (no stale rows) and a status: supported, differs or not yet. Every
value of Flagger's provider enums must have a row too, and a provider is
"supported" (or "differs") exactly when canaryd implements it: a
`.name = "<type>"` in src/providers/, `cd_notifier_type x = {"<type>", ...`
in src/notify/, `.provider = "<name>"` or `X_ROUTER(x, "<name>")` in
src/kube/mesh/.

Usage: compat-table.py [--doc FILE] [--missing]
  --missing  prints a skeleton row for every path not covered yet.
Exit status 0 when everything holds, 1 otherwise (each problem printed).
Reads only; never writes the document.
"""
import glob
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CANARYD_SRC", os.path.join(HERE, ".."))
SHARED = os.environ.get("CANARYD_SHARED", os.path.join(SRC, "..", "shared"))

SECTION = "## Every Flagger field"
TABLES = {  # heading -> CRD name
    "### Canary": "canaries.flagger.app",
    "### MetricTemplate": "metrictemplates.flagger.app",
    "### AlertProvider": "alertproviders.flagger.app",
}
PROVIDER_TABLES = {  # heading -> (CRD name, enum path, implementation dirs)
    "### Metric providers": ("metrictemplates.flagger.app", ".spec.provider.type",
                             ["src/providers"]),
    "### Alert providers": ("alertproviders.flagger.app", ".spec.type", ["src/notify"]),
    "### Mesh and ingress providers": ("canaries.flagger.app", ".spec.provider",
                                       ["src/kube/mesh"]),
}
STATUSES = ("supported", "differs", "not yet")
ROW = re.compile(r"^\|\s*`([^`]*)`( and below)?\s*\|\s*([^|]*?)\s*\|")


def walk(schema, path, out):
    """Every property path of an openAPIV3Schema -> its schema."""
    if not isinstance(schema, dict):
        return
    out[path] = schema
    for name, sub in (schema.get("properties") or {}).items():
        walk(sub, path + "." + name, out)
    if isinstance(schema.get("items"), dict):
        walk(schema["items"], path + "[]", out)
    if isinstance(schema.get("additionalProperties"), dict):
        walk(schema["additionalProperties"], path + ".*", out)


def flagger_paths():
    crds = {}
    with open(os.path.join(SHARED, "conformance/flagger/crd.yaml")) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                for v in doc["spec"]["versions"]:
                    if v["name"] == "v1beta1":
                        paths = {}
                        walk(v["schema"]["openAPIV3Schema"], "", paths)
                        paths.pop("", None)
                        crds[doc["metadata"]["name"]] = paths
    return crds


def read_tables(doc):
    """heading -> [(line number, key, below, status)] inside SECTION."""
    tables, current, inside = {}, None, False
    with open(doc) as f:
        for no, line in enumerate(f, 1):
            if line.startswith("## "):
                inside = line.strip() == SECTION
                current = None
                continue
            if not inside:
                continue
            if line.startswith("### "):
                current = next((h for h in list(TABLES) + list(PROVIDER_TABLES)
                                if line.strip().startswith(h)), None)
                if current:
                    tables.setdefault(current, [])
                continue
            m = ROW.match(line)
            if current and m:
                tables[current].append((no, m.group(1), bool(m.group(2)), m.group(3)))
    return tables


def implemented(dirs, name):
    pat = re.compile(r'(\.name\s*=\s*|\.provider\s*=\s*|_type\s+\w+\s*=\s*\{|_ROUTER\(\w+,\s*)"%s"'
                     % re.escape(name))
    for d in dirs:
        for path in glob.glob(os.path.join(SRC, d, "*.c")):
            with open(path) as f:
                if pat.search(f.read()):
                    return True
    return False


def check(doc):
    problems = []
    crds = flagger_paths()
    tables = read_tables(doc)
    rel = os.path.relpath(doc, SRC)
    for heading in list(TABLES) + list(PROVIDER_TABLES):
        if heading not in tables:
            problems.append("%s: no table \"%s\" under \"%s\"" % (rel, heading, SECTION))
    for heading, crd in TABLES.items():
        paths = crds[crd]
        rows = tables.get(heading, [])
        for no, key, below, status in rows:
            if key not in paths:
                problems.append("%s:%d: %s is not a field of Flagger's %s" % (rel, no, key, crd))
            if not status.startswith(STATUSES):
                problems.append("%s:%d: %s: status \"%s\" is none of %s"
                                % (rel, no, key, status, ", ".join(STATUSES)))
        exact = {k for _, k, _, _ in rows}
        prefixes = [k for _, k, b, _ in rows if b]
        for p in sorted(paths):
            if p in exact or any(p.startswith(k + ".") or p.startswith(k + "[")
                                 for k in prefixes):
                continue
            problems.append("%s: %s field %s has no row in \"%s\"" % (rel, crd, p, heading))
    for heading, (crd, enum_path, dirs) in PROVIDER_TABLES.items():
        values = crds[crd][enum_path].get("enum") or []
        rows = {k: (no, s) for no, k, _, s in tables.get(heading, [])}
        for v in values:
            if v not in rows:
                problems.append("%s: %s value %s has no row in \"%s\"" % (rel, enum_path, v, heading))
                continue
            no, status = rows[v]
            if not status.startswith(STATUSES):
                problems.append("%s:%d: %s: status \"%s\" is none of %s"
                                % (rel, no, v, status, ", ".join(STATUSES)))
            if dirs is not None:
                impl = implemented(dirs, v)
                if impl and status.startswith("not yet"):
                    problems.append("%s:%d: %s is implemented (%s) but the table says \"not yet\""
                                    % (rel, no, v, ", ".join(dirs)))
                if not impl and not status.startswith("not yet"):
                    problems.append("%s:%d: %s is not implemented in %s but the table says \"%s\""
                                    % (rel, no, v, ", ".join(dirs), status))
        for k, (no, _) in rows.items():
            if k not in values:
                problems.append("%s:%d: %s is not in Flagger's %s enum" % (rel, no, k, enum_path))
    return problems


def main(argv):
    doc = os.path.join(SRC, "docs/compatibility.md")
    missing = "--missing" in argv
    if "--doc" in argv:
        doc = argv[argv.index("--doc") + 1]
    problems = check(doc)
    for p in problems:
        if missing and " has no row in " in p:
            print("| `%s` | not yet | |" % p.split(" field ")[1].split(" has no row")[0])
        else:
            print(p)
    if not problems:
        n = sum(len(v) for v in flagger_paths().values())
        print("compatibility table covers all %d Flagger field paths and every provider" % n)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
