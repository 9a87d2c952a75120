"""test_crd_compare.py - canaryd's CRDs accept everything Flagger's CRD does.

Every field path of Flagger's own CRD (../shared/conformance/flagger/crd.yaml)
must exist in canaryd's CRD (deploy/crds/*.yaml) with a compatible type, every
enum value Flagger allows must be allowed, and canaryd's extra fields must be
exactly the documented extensions. Also checks the CRD metadata that kubectl
shows (printer columns, status subresource, names).
"""
import os
import sys

import yaml

SRC = os.environ.get("CANARYD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("CANARYD_SHARED", os.path.join(SRC, "..", "shared"))

# canaryd's documented extensions (docs/manifests.md): paths in its Canary
# schema that Flagger's has not.
EXTENSIONS = {
    "canaries.flagger.app": {
        ".spec.analysis.metrics[].judge",
        ".spec.analysis.metrics[].judge.test",
        ".spec.analysis.metrics[].judge.direction",
        ".spec.analysis.metrics[].judge.allowedIncrease",
        ".spec.analysis.metrics[].judge.allowedDecrease",
        ".spec.analysis.metrics[].judge.detectIncrease",
        ".spec.analysis.metrics[].judge.detectDecrease",
        ".spec.analysis.metrics[].judge.critical",
        ".spec.analysis.metrics[].judge.noData",
        ".spec.analysis.metrics[].judge.minSamples",
        ".spec.analysis.metrics[].judge.alpha",
        ".spec.analysis.metrics[].judge.step",
        ".spec.analysis.metrics[].judge.history",
        ".status.judge",
        ".status.judge[]",
        # instant rollback (docs/rollback.md)
        ".spec.rollbackWindow",
        ".spec.rollbackWindow.revisions",
        ".spec.rollbackWindow.maxAge",
        ".status.promotedRevisions",
        ".status.promotedRevisions[]",
        ".status.promotedRevisions[].revision",
        ".status.promotedRevisions[].promotedAt",
    } | {".status.judge[]." + f for f in (
        "metric", "test", "verdict", "reason", "windows", "canary", "canary.samples",
        "canary.errors", "canary.p50", "canary.p99", "primary", "primary.samples",
        "primary.errors", "primary.p50", "primary.p99", "estimate", "lower", "upper", "unit",
        "statistic", "statisticName", "pValue", "alpha", "lastUpdateTime", "state",
        "state.version", "state.values", "state.values[]", "history", "history.status",
        "history.window", "history.covered", "history.samples", "history.errors", "history.rate",
        "history.reference", "history.p50", "history.p99", "history.fellBackAtWindow",
        "history.reason")},
}
# Types canaryd may use in place of Flagger's: (flagger, canaryd) pairs that
# accept at least the same values.
COMPATIBLE = {("integer", "number"), (None, "object")}

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


def load_crds(paths):
    crds = {}
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    crds[doc["metadata"]["name"]] = doc
    return crds


def schema_of(crd, version="v1beta1"):
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"], v
    return None, None


def walk(schema, path, out):
    """Collects path -> (type, int_or_string, enum) for every property."""
    if not isinstance(schema, dict):
        return
    out[path] = (schema.get("type"), bool(schema.get("x-kubernetes-int-or-string")),
                 tuple(schema.get("enum") or ()))
    for name, sub in (schema.get("properties") or {}).items():
        walk(sub, path + "." + name, out)
    if isinstance(schema.get("items"), dict):
        walk(schema["items"], path + "[]", out)
    if isinstance(schema.get("additionalProperties"), dict):
        walk(schema["additionalProperties"], path + ".*", out)
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in schema.get(key) or ():
            if isinstance(branch, dict) and branch.get("properties"):
                for name, sub in branch["properties"].items():
                    walk(sub, path + "." + name, out)


def compatible(theirs, ours):
    t_type, t_ios, t_enum = theirs
    o_type, o_ios, o_enum = ours
    if t_ios or o_ios:
        return t_ios == o_ios
    if t_type != o_type and (t_type, o_type) not in COMPATIBLE and t_type is not None:
        return False
    return set(t_enum) <= set(o_enum) if t_enum and o_enum else not o_enum


def main():
    flagger = load_crds([os.path.join(SHARED, "conformance/flagger/crd.yaml")])
    crd_dir = os.path.join(SRC, "deploy/crds")
    ours = load_crds([os.path.join(crd_dir, f) for f in sorted(os.listdir(crd_dir))
                      if f.endswith(".yaml")])
    check("Flagger's CRD file has 3 CRDs", len(flagger) == 3, str(sorted(flagger)))
    for name, fcrd in sorted(flagger.items()):
        ocrd = ours.get(name)
        check(name + " exists in deploy/crds", ocrd is not None)
        if not ocrd:
            continue
        fs, fv = schema_of(fcrd)
        os_, ov = schema_of(ocrd)
        check(name + " serves v1beta1 with a status subresource",
              os_ is not None and ov.get("served") and "status" in (ov.get("subresources") or {}))
        check(name + " names match", fcrd["spec"]["names"] == {**ocrd["spec"]["names"]}
              or all(ocrd["spec"]["names"].get(k) == v for k, v in fcrd["spec"]["names"].items()),
              "%s vs %s" % (fcrd["spec"]["names"], ocrd["spec"]["names"]))
        fcols = [(c["name"], c["jsonPath"], c.get("priority", 0))
                 for c in fv.get("additionalPrinterColumns", [])]
        ocols = [(c["name"], c["jsonPath"], c.get("priority", 0))
                 for c in ov.get("additionalPrinterColumns", [])]
        check(name + " printer columns match Flagger's", sorted(fcols) == sorted(ocols),
              "%s vs %s" % (fcols, ocols))
        fpaths, opaths = {}, {}
        walk(fs, "", fpaths)
        walk(os_, "", opaths)
        missing = sorted(p for p in fpaths if p not in opaths)
        check("%s: all %d Flagger field paths exist" % (name, len(fpaths)), not missing,
              ", ".join(missing[:20]))
        bad = sorted(p for p in fpaths if p in opaths and not compatible(fpaths[p], opaths[p]))
        check("%s: every shared path has a compatible type and enum" % name, not bad,
              "; ".join("%s: %s vs %s" % (p, fpaths[p], opaths[p]) for p in bad[:10]))
        extra = sorted(p for p in opaths if p not in fpaths)
        want = EXTENSIONS.get(name, set())
        check("%s: extensions are exactly the documented ones" % name, set(extra) == want,
              "extra=%s" % extra)
    # the LocalWorkload CRD exists and is canaryd's own group
    check("localworkloads.canaryd.dev exists", "localworkloads.canaryd.dev" in ours)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
