"""defaults.py - what the real API server adds to and checks in built-in
objects: defaulting (Deployment strategy, revisionHistoryLimit,
progressDeadlineSeconds, pod spec and container defaults, Service
ClusterIP/ports/targetPort, Namespace finalizers and phase, Secret
stringData) and the validation rules canaryd's operator can run into
(object names, label syntax, selector vs template labels, immutable
selectors and clusterIPs, events.k8s.io/v1 required fields). Validation
returns causes (reason, field, message) like apimachinery's field errors.
Pure functions (the ClusterIP allocator is passed in)."""
import base64

from .util import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                 "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                 "'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
               "with an alphabetic character, and end with an alphanumeric character (e.g. "
               "'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")


# ---- defaulting ---------------------------------------------------------------

def _image_pull_policy(image):
    name = (image or "").split("@")[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    if "@" in (image or ""):
        return "IfNotPresent"
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(p):
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("path", "/")
        p["httpGet"].setdefault("scheme", "HTTP")


def default_container(c):
    if not isinstance(c, dict):
        return
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") if isinstance(e, dict) else None
        if isinstance(vf, dict) and isinstance(vf.get("fieldRef"), dict):
            vf["fieldRef"].setdefault("apiVersion", "v1")
    c.setdefault("resources", {})
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _image_pull_policy(c.get("image")))


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            default_container(c)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            for src in ("configMap", "secret"):
                if isinstance(v.get(src), dict):
                    v[src].setdefault("defaultMode", 420)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def default_template(tpl):
    if not isinstance(tpl, dict):
        return
    md = tpl.setdefault("metadata", {})
    if isinstance(md, dict) and "creationTimestamp" not in md:
        # ObjectMeta's field order: creationTimestamp comes before labels
        rest = dict(md)
        md.clear()
        for k in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                  "generation"):
            if k in rest:
                md[k] = rest.pop(k)
        md["creationTimestamp"] = None
        md.update(rest)
    default_pod_spec(tpl.get("spec"))


def _default_deployment(o, ctx):
    s = o.setdefault("spec", {})
    s.setdefault("replicas", 1)
    st = s.setdefault("strategy", {})
    st.setdefault("type", "RollingUpdate")
    if st["type"] == "RollingUpdate":
        ru = st.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    s.setdefault("revisionHistoryLimit", 10)
    s.setdefault("progressDeadlineSeconds", 600)
    default_template(s.get("template"))


def _default_daemonset(o, ctx):
    s = o.setdefault("spec", {})
    us = s.setdefault("updateStrategy", {})
    us.setdefault("type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        ru = us.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    s.setdefault("revisionHistoryLimit", 10)
    default_template(s.get("template"))


def _default_statefulset(o, ctx):
    s = o.setdefault("spec", {})
    s.setdefault("replicas", 1)
    s.setdefault("podManagementPolicy", "OrderedReady")
    us = s.setdefault("updateStrategy", {})
    us.setdefault("type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    s.setdefault("revisionHistoryLimit", 10)
    default_template(s.get("template"))


def _default_replicaset(o, ctx):
    s = o.setdefault("spec", {})
    s.setdefault("replicas", 1)
    default_template(s.get("template"))


def _default_pod(o, ctx):
    default_pod_spec(o.setdefault("spec", {}))
    o.setdefault("status", {}).setdefault("phase", "Pending")


def _default_service(o, ctx):
    s = o.setdefault("spec", {})
    s.setdefault("type", "ClusterIP")
    if s["type"] == "ExternalName":
        return
    for p in s.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and "port" in p:
                p["targetPort"] = p["port"]
            if s["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in p and ctx:
                p["nodePort"] = ctx.alloc_node_port()
    s.setdefault("sessionAffinity", "None")
    if "clusterIP" not in s and ctx:
        s["clusterIP"] = ctx.alloc_cluster_ip()
    if "clusterIP" in s:
        s.setdefault("clusterIPs", [s["clusterIP"]])
    s.setdefault("ipFamilies", ["IPv4"])
    s.setdefault("ipFamilyPolicy", "SingleStack")
    s.setdefault("internalTrafficPolicy", "Cluster")
    if s["type"] in ("NodePort", "LoadBalancer"):
        s.setdefault("externalTrafficPolicy", "Cluster")
    o.setdefault("status", {}).setdefault("loadBalancer", {})


def _default_namespace(o, ctx):
    md = o.setdefault("metadata", {})
    if md.get("name"):
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
    o.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    o.setdefault("status", {}).setdefault("phase", "Active")


def _default_secret(o, ctx):
    o.setdefault("type", "Opaque")
    sd = o.pop("stringData", None)
    if isinstance(sd, dict):
        data = o.setdefault("data", {})
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _default_hpa(o, ctx):
    s = o.setdefault("spec", {})
    s.setdefault("minReplicas", 1)


DEFAULTERS = {
    ("apps", "Deployment"): _default_deployment,
    ("apps", "DaemonSet"): _default_daemonset,
    ("apps", "StatefulSet"): _default_statefulset,
    ("apps", "ReplicaSet"): _default_replicaset,
    ("", "Pod"): _default_pod,
    ("", "Service"): _default_service,
    ("", "Namespace"): _default_namespace,
    ("", "Secret"): _default_secret,
    ("autoscaling", "HorizontalPodAutoscaler"): _default_hpa,
}


def apply_defaults(rt, obj, ctx):
    f = DEFAULTERS.get((rt.group, rt.kind))
    if f:
        f(obj, ctx)


# ---- validation -----------------------------------------------------------------

def _q(v):
    import json
    return json.dumps(v)


def validate_name(rt, name, field="metadata.name", prefix=False):
    """Returns causes for an invalid object name."""
    if rt.kind in ("Namespace",) or (rt.group == "" and rt.kind == "Service"):
        rx, msg, limit = (DNS1123_LABEL, LABEL_MSG, 63) if rt.kind == "Namespace" else \
            (DNS1035_LABEL, DNS1035_MSG, 63)
    else:
        rx, msg, limit = DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, 253
    check = name
    if prefix and check.endswith("-"):
        check = check[:-1] + "a"
    out = []
    if len(name) > limit:
        out.append(("FieldValueInvalid", field, "Invalid value: %s: must be no more than %d characters"
                    % (_q(name), limit)))
    if not rx.match(check):
        out.append(("FieldValueInvalid", field, "Invalid value: %s: %s" % (_q(name), msg)))
    return out


def _validate_labels(labels, field):
    out = []
    if labels is None:
        return out
    if not isinstance(labels, dict):
        return [("FieldValueTypeInvalid", field, "Invalid value: %s: must be a map" % _q(labels))]
    for k, v in labels.items():
        name = k.split("/")[-1]
        if "/" in k and not DNS1123_SUBDOMAIN.match(k.rsplit("/", 1)[0]) or not QUALIFIED_NAME.match(name) \
                or len(name) > 63:
            out.append(("FieldValueInvalid", field, 'Invalid value: %s: name part must consist of '
                        "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" % _q(k)))
        if not isinstance(v, str):
            out.append(("FieldValueTypeInvalid", "%s.%s" % (field, k), "Invalid value: %s: must be a string" % _q(v)))
        elif len(v) > 63 or not LABEL_VALUE.match(v):
            out.append(("FieldValueInvalid", field, "Invalid value: %s: a valid label must be an empty "
                        "string or consist of alphanumeric characters, '-', '_' or '.', and must start "
                        "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                        "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                        % _q(v)))
    return out


def validate_meta(rt, obj):
    md = obj.get("metadata")
    out = []
    if not isinstance(md, dict):
        return [("FieldValueRequired", "metadata", "Required value")]
    out += _validate_labels(md.get("labels"), "metadata.labels")
    ann = md.get("annotations")
    if ann is not None and not isinstance(ann, dict):
        out.append(("FieldValueTypeInvalid", "metadata.annotations", "Invalid value: must be a map"))
    elif ann:
        size = sum(len(k) + len(str(v)) for k, v in ann.items())
        if size > 256 * 1024:
            out.append(("FieldValueTooLong", "metadata.annotations",
                        "Too long: must have at most 262144 bytes"))
    return out


def _selector_matches(sel, labels):
    if not isinstance(sel, dict):
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def selector_string(sel):
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())] \
        if isinstance(sel, dict) else []
    for e in (sel.get("matchExpressions") or []) if isinstance(sel, dict) else []:
        op = e.get("operator")
        vals = ",".join(sorted(e.get("values") or []))
        if op == "In":
            parts.append("%s in (%s)" % (e.get("key"), vals))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e.get("key"), vals))
        elif op == "Exists":
            parts.append(e.get("key"))
        elif op == "DoesNotExist":
            parts.append("!" + e.get("key"))
    return ",".join(parts)


def _validate_pod_spec(spec, field):
    out = []
    if not isinstance(spec, dict):
        return [("FieldValueRequired", field, "Required value")]
    cs = spec.get("containers")
    if not cs:
        out.append(("FieldValueRequired", field + ".containers", "Required value"))
    names = set()
    for i, c in enumerate(cs or []):
        f = "%s.containers[%d]" % (field, i)
        if not isinstance(c, dict):
            out.append(("FieldValueTypeInvalid", f, "Invalid value: must be an object"))
            continue
        if not c.get("name"):
            out.append(("FieldValueRequired", f + ".name", "Required value"))
        elif c["name"] in names:
            out.append(("FieldValueDuplicate", f + ".name", "Duplicate value: %s" % _q(c["name"])))
        names.add(c.get("name"))
        if not c.get("image"):
            out.append(("FieldValueRequired", f + ".image", "Required value"))
    return out


def _validate_workload(rt, obj, old):
    s = obj.get("spec") or {}
    out = []
    sel = s.get("selector")
    if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        out.append(("FieldValueRequired", "spec.selector", "Required value"))
    tpl = s.get("template") or {}
    tlabels = (tpl.get("metadata") or {}).get("labels")
    if isinstance(sel, dict) and (sel.get("matchLabels") or sel.get("matchExpressions")) \
            and not _selector_matches(sel, tlabels):
        out.append(("FieldValueInvalid", "spec.template.metadata.labels",
                    "Invalid value: %s: `selector` does not match template `labels`"
                    % _go_map(tlabels or {})))
    out += _validate_labels(tlabels, "spec.template.metadata.labels")
    out += _validate_pod_spec(tpl.get("spec"), "spec.template.spec")
    r = s.get("replicas")
    if r is not None and (not isinstance(r, int) or r < 0):
        out.append(("FieldValueInvalid", "spec.replicas",
                    "Invalid value: %s: must be greater than or equal to 0" % _q(r)))
    if old is not None:
        osel = (old.get("spec") or {}).get("selector")
        if osel != sel:
            out.append(("FieldValueInvalid", "spec.selector", "Invalid value: %s: field is immutable"
                        % _go_selector(sel)))
    return out


def _go_map(m):
    return "map[string]string{%s}" % ", ".join('"%s":"%s"' % (k, v) for k, v in sorted(m.items()))


def _go_selector(sel):
    ml = (sel or {}).get("matchLabels") or {}
    return "v1.LabelSelector{MatchLabels:%s, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}" \
        % _go_map(ml)


def _validate_service(rt, obj, old):
    s = obj.get("spec") or {}
    out = []
    t = s.get("type", "ClusterIP")
    if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        out.append(("FieldValueNotSupported", "spec.type", 'Unsupported value: %s: supported values: '
                    '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' % _q(t)))
    if t != "ExternalName" and s.get("clusterIP") != "None" and not s.get("ports"):
        out.append(("FieldValueRequired", "spec.ports", "Required value"))
    seen = set()
    for i, p in enumerate(s.get("ports") or []):
        f = "spec.ports[%d]" % i
        port = p.get("port") if isinstance(p, dict) else None
        if not isinstance(port, int) or not 1 <= port <= 65535:
            out.append(("FieldValueInvalid", f + ".port", "Invalid value: %s: must be between 1 and "
                        "65535, inclusive" % _q(port)))
        if len(s.get("ports")) > 1 and not (isinstance(p, dict) and p.get("name")):
            out.append(("FieldValueRequired", f + ".name", "Required value"))
        key = (port, p.get("protocol", "TCP") if isinstance(p, dict) else None)
        if key in seen:
            out.append(("FieldValueDuplicate", f, "Duplicate value: %s" % _q(p)))
        seen.add(key)
    if old is not None:
        o_ip = (old.get("spec") or {}).get("clusterIP")
        if o_ip and s.get("clusterIP") != o_ip and t == (old.get("spec") or {}).get("type"):
            out.append(("FieldValueInvalid", "spec.clusterIPs[0]", "Invalid value: %s: may not change "
                        "once set" % _q(s.get("clusterIP"))))
    return out


def _validate_event_v1(rt, obj, old):
    out = []
    for f in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
        if not obj.get(f):
            out.append(("FieldValueRequired", f, "Required value"))
    t = obj.get("type")
    if t not in ("Normal", "Warning"):
        out.append(("FieldValueNotSupported", "type", 'Unsupported value: %s: supported values: '
                    '"Normal", "Warning"' % _q(t)))
    if len(obj.get("note") or "") > 1024:
        out.append(("FieldValueTooLong", "note", "Too long: may not be longer than 1024"))
    return out


def _validate_lease(rt, obj, old):
    s = obj.get("spec") or {}
    d = s.get("leaseDurationSeconds")
    if d is not None and (not isinstance(d, int) or d <= 0):
        return [("FieldValueInvalid", "spec.leaseDurationSeconds",
                 "Invalid value: %s: must be greater than 0" % _q(d))]
    return []


def _validate_crd(rt, obj, old):
    s = obj.get("spec") or {}
    names = s.get("names") or {}
    out = []
    name = (obj.get("metadata") or {}).get("name")
    want = "%s.%s" % (names.get("plural"), s.get("group"))
    if name != want:
        out.append(("FieldValueInvalid", "metadata.name", 'Invalid value: %s: must be spec.names.plural+"."+spec.group'
                    % _q(name)))
    if not s.get("versions"):
        out.append(("FieldValueRequired", "spec.versions", "Required value"))
    if s.get("scope") not in ("Namespaced", "Cluster"):
        out.append(("FieldValueNotSupported", "spec.scope", 'Unsupported value: %s: supported values: '
                    '"Cluster", "Namespaced"' % _q(s.get("scope"))))
    if not names.get("kind"):
        out.append(("FieldValueRequired", "spec.names.kind", "Required value"))
    storage = [v for v in s.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    if s.get("versions") and len(storage) != 1:
        out.append(("FieldValueInvalid", "spec.versions", "Invalid value: %s: must have exactly one "
                    "version marked as storage version" % _q([v.get("name") for v in s["versions"]])))
    return out


VALIDATORS = {
    ("apps", "Deployment"): _validate_workload,
    ("apps", "DaemonSet"): _validate_workload,
    ("apps", "StatefulSet"): _validate_workload,
    ("apps", "ReplicaSet"): _validate_workload,
    ("", "Service"): _validate_service,
    ("events.k8s.io", "Event"): _validate_event_v1,
    ("coordination.k8s.io", "Lease"): _validate_lease,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _validate_crd,
}


def validate(rt, obj, old):
    out = validate_meta(rt, obj)
    f = VALIDATORS.get((rt.group, rt.kind))
    if f:
        out += f(rt, obj, old)
    return out
