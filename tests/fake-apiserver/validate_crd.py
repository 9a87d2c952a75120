#!/usr/bin/python3
"""validate_crd.py - checks objects against the CustomResourceDefinitions
that define them, as the API server would: the fake API server's
structural walker (pruning, defaults, k8s-worded causes) and, independently,
python3-jsonschema on the CRD's openAPIV3Schema converted to JSON Schema
draft 4. Both must accept an object for it to pass.

Usage: validate_crd.py CRD_FILE_OR_DIR... -- OBJECTS.yaml...
Exit status 0 when every object of a kind some CRD defines is valid; objects
of other kinds are skipped (listed on stderr). For tests and for checking
what canaryd generates (App Mesh, Gateway API)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jsonschema  # noqa: E402
import yaml  # noqa: E402

from fakekube import schema  # noqa: E402


def load_crds(paths):
    crds = {}
    for p in paths:
        files = [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith((".yaml", ".yml"))] \
            if os.path.isdir(p) else [p]
        for f in files:
            with open(f) as fh:
                for doc in yaml.safe_load_all(fh):
                    if not doc or doc.get("kind") != "CustomResourceDefinition":
                        continue
                    spec = doc["spec"]
                    for v in spec.get("versions", []):
                        s = (v.get("schema") or {}).get("openAPIV3Schema")
                        crds[(spec["group"] + "/" + v["name"], spec["names"]["kind"])] = s
    return crds


def check(obj, crds):
    """Returns a list of error strings (empty: valid), or None when no CRD
    defines the object's kind."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in crds:
        return None
    sch = crds[key]
    pruned, causes = schema.apply(obj, sch)
    errs = ["%s: %s" % (f, m) for (_, f, m) in causes]
    for e in jsonschema.Draft4Validator(schema._to_draft4(sch)).iter_errors(pruned):
        errs.append("jsonschema: %s: %s" % (".".join(str(x) for x in e.absolute_path), e.message))
    pruned_paths = schema_unknown(obj, pruned)
    errs += ["%s: unknown field (the API server would drop it)" % p for p in pruned_paths]
    return errs


def schema_unknown(before, after, path=""):
    from fakekube.store import _pruned_paths
    return _pruned_paths(before, after, path)


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    i = argv.index("--")
    crds = load_crds(argv[:i])
    bad = 0
    for f in argv[i + 1:]:
        with open(f) as fh:
            for n, obj in enumerate(d for d in yaml.safe_load_all(fh) if d):
                errs = check(obj, crds)
                name = "%s %s/%s (%s #%d)" % (obj.get("kind"), (obj.get("metadata") or {}).get("namespace", ""),
                                              (obj.get("metadata") or {}).get("name"), f, n)
                if errs is None:
                    print("skip %s: no CRD for %s" % (name, obj.get("apiVersion")), file=sys.stderr)
                elif errs:
                    bad += 1
                    print("INVALID %s" % name)
                    for e in errs:
                        print("  " + e)
                else:
                    print("valid %s" % name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
