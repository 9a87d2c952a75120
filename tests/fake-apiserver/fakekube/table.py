"""table.py - server-side printing: the meta.k8s.io/v1 Table that kubectl
asks for (Accept: application/json;as=Table;v=v1;g=meta.k8s.io) with the
columns the real server prints for the kinds canaryd touches, and the
additionalPrinterColumns of CRDs. Pure."""
import time

from .defaults import selector_string
from .util import get_path, human_duration, parse_time

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "http://kubernetes.io/docs/user-guide/identifiers#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate "
            "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
            "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
            "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def _col(name, desc="", typ="string", fmt="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}


def _age(o, now):
    t = parse_time(o["metadata"].get("creationTimestamp"))
    return human_duration(now - t) if t else "<unknown>"


def _containers(tpl_spec):
    cs = (tpl_spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deployment(o, now):
    s, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(get_path(o, "spec.template.spec"))
    return ["%s" % o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0), s.get("replicas", 0)),
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o, now), names, images,
            selector_string(s.get("selector"))]


def _daemonset(o, now):
    s, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(get_path(o, "spec.template.spec"))
    ns = get_path(o, "spec.template.spec.nodeSelector") or {}
    return [o["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            ",".join("%s=%s" % kv for kv in sorted(ns.items())) or "<none>", _age(o, now), names, images,
            selector_string(s.get("selector"))]


def _service(o, now):
    s = o.get("spec") or {}
    ports = ",".join("%s%s/%s" % (p.get("port"), (":%s" % p["nodePort"]) if p.get("nodePort") else "",
                                  p.get("protocol", "TCP")) for p in s.get("ports") or []) or "<none>"
    ext = ",".join(i.get("ip") or i.get("hostname", "") for i in
                   get_path(o, "status.loadBalancer.ingress") or []) or \
        ("<pending>" if s.get("type") == "LoadBalancer" else "<none>")
    sel = ",".join("%s=%s" % kv for kv in sorted((s.get("selector") or {}).items())) or "<none>"
    return [o["metadata"]["name"], s.get("type", "ClusterIP"), s.get("clusterIP", "<none>"), ext, ports,
            _age(o, now), sel]


def _configmap(o, now):
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)]


def _secret(o, now):
    return [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), _age(o, now)]


def _namespace(o, now):
    return [o["metadata"]["name"], get_path(o, "status.phase") or "Active", _age(o, now)]


def _hpa(o, now):
    s, st = o.get("spec") or {}, o.get("status") or {}
    ref = s.get("scaleTargetRef") or {}
    return [o["metadata"]["name"], "%s/%s" % (ref.get("kind", ""), ref.get("name", "")), "<unknown>",
            s.get("minReplicas", 1), s.get("maxReplicas", 0), st.get("currentReplicas", 0), _age(o, now)]


def _event(o, now):
    last = o.get("lastTimestamp") or o.get("eventTime")
    t = parse_time(last)
    io = o.get("involvedObject") or {}
    return [human_duration(now - t) if t else "<unknown>", o.get("type", ""), o.get("reason", ""),
            "%s/%s" % (io.get("kind", "").lower(), io.get("name", "")), o.get("message", "")]


def _lease(o, now):
    return [o["metadata"]["name"], get_path(o, "spec.holderIdentity") or "", _age(o, now)]


def _pod(o, now):
    st = o.get("status") or {}
    cs = (o.get("spec") or {}).get("containers") or []
    ready = sum(1 for c in st.get("containerStatuses") or [] if c.get("ready"))
    return [o["metadata"]["name"], "%d/%d" % (ready, len(cs)), st.get("phase", "Pending"),
            sum(c.get("restartCount", 0) for c in st.get("containerStatuses") or []), _age(o, now),
            st.get("podIP", "<none>"), get_path(o, "spec.nodeName") or "<none>"]


def _node(o, now):
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in get_path(o, "status.conditions") or [])
    return [o["metadata"]["name"], "Ready" if ready else "NotReady", "<none>", _age(o, now),
            get_path(o, "status.nodeInfo.kubeletVersion") or ""]


def _crd(o, now):
    return [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]


BUILTIN = {
    ("apps", "Deployment"): ([
        _col("Name", NAME_DESC, fmt="name"), _col("Ready", "Number of the pod with ready state"),
        _col("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have "
             "the desired template spec."),
        _col("Available", "Total number of available pods (ready for at least minReadySeconds) "
             "targeted by this deployment."),
        _col("Age", AGE_DESC), _col("Containers", "Names of each container in the template.", prio=1),
        _col("Images", "Images referenced by each container in the template.", prio=1),
        _col("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by "
             "this will be the ones affected by this deployment.", prio=1)], _deployment),
    ("apps", "DaemonSet"): ([_col("Name", NAME_DESC, fmt="name"), _col("Desired", typ="integer"),
                             _col("Current", typ="integer"), _col("Ready", typ="integer"),
                             _col("Up-to-date", typ="integer"), _col("Available", typ="integer"),
                             _col("Node Selector"), _col("Age", AGE_DESC), _col("Containers", prio=1),
                             _col("Images", prio=1), _col("Selector", prio=1)], _daemonset),
    ("", "Service"): ([_col("Name", NAME_DESC, fmt="name"), _col("Type"), _col("Cluster-IP"),
                       _col("External-IP"), _col("Port(s)"), _col("Age", AGE_DESC),
                       _col("Selector", prio=1)], _service),
    ("", "ConfigMap"): ([_col("Name", NAME_DESC, fmt="name"), _col("Data", typ="integer"),
                         _col("Age", AGE_DESC)], _configmap),
    ("", "Secret"): ([_col("Name", NAME_DESC, fmt="name"), _col("Type"), _col("Data", typ="integer"),
                      _col("Age", AGE_DESC)], _secret),
    ("", "Namespace"): ([_col("Name", NAME_DESC, fmt="name"), _col("Status"), _col("Age", AGE_DESC)],
                        _namespace),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        [_col("Name", NAME_DESC, fmt="name"), _col("Reference"), _col("Targets"),
         _col("MinPods", typ="integer"), _col("MaxPods", typ="integer"), _col("Replicas", typ="integer"),
         _col("Age", AGE_DESC)], _hpa),
    ("", "Event"): ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
                    _event),
    ("coordination.k8s.io", "Lease"): ([_col("Name", NAME_DESC, fmt="name"), _col("Holder"),
                                        _col("Age", AGE_DESC)], _lease),
    ("", "Pod"): ([_col("Name", NAME_DESC, fmt="name"), _col("Ready"), _col("Status"),
                   _col("Restarts", typ="integer"), _col("Age", AGE_DESC), _col("IP", prio=1),
                   _col("Node", prio=1)], _pod),
    ("", "Node"): ([_col("Name", NAME_DESC, fmt="name"), _col("Status"), _col("Roles"),
                    _col("Age", AGE_DESC), _col("Version")], _node),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (
        [_col("Name", NAME_DESC, fmt="name"), _col("Created At", typ="date")], _crd),
}


def _jsonpath(o, path):
    """The subset of JSONPath printer columns use: .a.b, .a[0].b, .a[*].b"""
    cur = [o]
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    for part in p.strip(".").split("."):
        if not part:
            continue
        idx = None
        if "[" in part and part.endswith("]"):
            part, idx = part[:-1].split("[", 1)
        nxt = []
        for c in cur:
            v = c.get(part) if isinstance(c, dict) and part else c
            if v is None:
                continue
            if idx is not None and isinstance(v, list):
                if idx == "*":
                    nxt.extend(v)
                else:
                    try:
                        nxt.append(v[int(idx)])
                    except (ValueError, IndexError):
                        pass
            else:
                nxt.append(v)
        cur = nxt
    if not cur:
        return None
    return cur[0] if len(cur) == 1 else cur


def _cell(v, typ):
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        import json
        return json.dumps(v, separators=(",", ":"))
    if typ in ("integer", "number", "boolean"):
        return v
    return v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _custom(rt):
    cols = [_col("Name", NAME_DESC, fmt="name")]
    pcs = rt.printer_columns or [{"name": "Age", "type": "date",
                                  "jsonPath": ".metadata.creationTimestamp"}]
    for pc in pcs:
        cols.append(_col(pc.get("name", ""), pc.get("description", ""), pc.get("type", "string"),
                         pc.get("format", ""), pc.get("priority", 0)))

    def row(o, now):
        return [o["metadata"]["name"]] + [_cell(_jsonpath(o, pc.get("jsonPath", "")), pc.get("type"))
                                          for pc in pcs]
    return cols, row


def _default(rt):
    return [_col("Name", NAME_DESC, fmt="name"), _col("Age", AGE_DESC)], \
        lambda o, now: [o["metadata"]["name"], _age(o, now)]


def to_table(rt, objects, list_rv=None, include="Metadata"):
    now = time.time()
    if not rt.builtin:
        cols, row = _custom(rt)
    else:
        key = (rt.group if not rt.to_storage else "", rt.kind)
        cols, row = BUILTIN.get(key) or _default(rt)
    rows = []
    for o in objects:
        r = {"cells": row(o, now)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": o["metadata"]}
        rows.append(r)
    meta = {}
    if list_rv is not None:
        meta["resourceVersion"] = list_rv
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": cols, "rows": rows}
