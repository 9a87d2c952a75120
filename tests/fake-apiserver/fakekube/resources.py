"""resources.py - the resource types the fake API server serves: built-in
kinds (core v1, apps/v1, autoscaling/v2, coordination.k8s.io/v1,
events.k8s.io/v1, apiextensions.k8s.io/v1, rbac, networking, policy, batch)
and CustomResourceDefinitions registered at run time; and the discovery
documents built from them (/api, /apis, APIGroup, APIResourceList).

A ResourceType is one group/version/resource. Objects are stored once per
(group, plural) "storage key"; events.k8s.io/v1 Events share core v1
Events' storage through converters, as on a real server. No I/O here."""
import base64
import hashlib

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# apiextensions-apiserver lists a custom resource's verbs in this order
CR_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
# kube-apiserver's order of the built-in groups in /apis (v1.24, as recorded);
# custom resources' groups follow, in the order they were registered
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
               "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
               "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
               "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
               "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io",
               "flowcontrol.apiserver.k8s.io"]
SUB_VERBS = ["get", "patch", "update"]

# Fields every resource accepts in field selectors.
META_FIELDS = {"metadata.name", "metadata.namespace"}


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced=True, short_names=(),
                 categories=(), singular="", subresources=(), generation=False, builtin=True,
                 schema=None, printer_columns=None, scale=None, storage=None, fields=(),
                 status_group_hidden=False, list_kind=None, smp=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.list_kind = list_kind or kind + "List"
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.singular = singular
        self.subresources = set(subresources)
        self.has_generation = generation
        self.builtin = builtin
        self.schema = schema
        self.printer_columns = printer_columns or []
        self.scale = scale          # CRD scale paths, or {} for built-in scale
        self.storage = storage or (group, plural)
        self.field_selectors = META_FIELDS | set(fields)
        self.status_group_hidden = status_group_hidden
        self.smp = builtin if smp is None else smp   # strategic merge patch supported
        self.to_storage = None      # converters for shared storage (events)
        self.from_storage = None

    @property
    def api_version(self):
        return self.version if not self.group else self.group + "/" + self.version

    @property
    def has_status(self):
        return "status" in self.subresources

    def storage_version_hash(self):
        h = hashlib.sha256(("%s/%s/%s" % (self.group, self.version, self.kind)).encode()).digest()
        return base64.b64encode(h[:8]).decode()

    def discovery_entries(self):
        out = [{
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(VERBS if self.builtin else CR_VERBS),
        }]
        if self.short_names:
            out[0]["shortNames"] = list(self.short_names)
        if self.categories:
            out[0]["categories"] = list(self.categories)
        out[0]["storageVersionHash"] = self.storage_version_hash()
        for sub in sorted(self.subresources):
            e = {"name": self.plural + "/" + sub, "singularName": "", "namespaced": self.namespaced}
            if sub == "scale":
                e["group"] = "autoscaling"
                e["version"] = "v1"
                e["kind"] = "Scale"
            elif sub == "portforward":
                e["kind"] = "PodPortForwardOptions"
            else:
                e["kind"] = self.kind
            e["verbs"] = {"log": ["get"], "portforward": ["create", "get"]}.get(sub, list(SUB_VERBS))
            out.append(e)
        return out


POD_FIELDS = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "status.phase", "status.podIP", "status.nominatedNodeName"}
EVENT_FIELDS = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}
EVENTS_V1_FIELDS = {"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                    "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                    "reason", "reportingController", "type"}


def builtin_types():
    R = ResourceType
    types = [
        R("", "v1", "namespaces", "Namespace", namespaced=False, short_names=["ns"],
          subresources=["status"], fields=["status.phase"]),
        R("", "v1", "pods", "Pod", short_names=["po"], categories=["all"], subresources=["log", "portforward", "status"],
          fields=POD_FIELDS),
        R("", "v1", "services", "Service", short_names=["svc"], categories=["all"],
          subresources=["status"]),
        R("", "v1", "configmaps", "ConfigMap", short_names=["cm"]),
        R("", "v1", "secrets", "Secret", fields=["type"]),
        R("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"]),
        R("", "v1", "endpoints", "Endpoints", short_names=["ep"]),
        R("", "v1", "events", "Event", short_names=["ev"], fields=EVENT_FIELDS),
        R("", "v1", "nodes", "Node", namespaced=False, short_names=["no"], subresources=["status"],
          fields=["spec.unschedulable"]),
        R("apps", "v1", "deployments", "Deployment", short_names=["deploy"], categories=["all"],
          subresources=["status", "scale"], generation=True, scale={}),
        R("apps", "v1", "daemonsets", "DaemonSet", short_names=["ds"], categories=["all"],
          subresources=["status"], generation=True),
        R("apps", "v1", "replicasets", "ReplicaSet", short_names=["rs"], categories=["all"],
          subresources=["status", "scale"], generation=True, scale={}),
        R("apps", "v1", "statefulsets", "StatefulSet", short_names=["sts"], categories=["all"],
          subresources=["status", "scale"], generation=True, scale={}),
        R("apps", "v1", "controllerrevisions", "ControllerRevision"),
        R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
          short_names=["hpa"], categories=["all"], subresources=["status"], generation=True),
        R("coordination.k8s.io", "v1", "leases", "Lease"),
        R("events.k8s.io", "v1", "events", "Event", short_names=["ev"], storage=("", "events"),
          fields=EVENTS_V1_FIELDS, status_group_hidden=True),
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          namespaced=False, short_names=["crd", "crds"], categories=["api-extensions"],
          subresources=["status"], generation=True),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
          namespaced=False),
        R("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=["ing"],
          subresources=["status"], generation=True),
        R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=["netpol"],
          generation=True),
        R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=["pdb"],
          subresources=["status"], generation=True),
        R("batch", "v1", "jobs", "Job", categories=["all"], subresources=["status"],
          generation=True),
        R("batch", "v1", "cronjobs", "CronJob", short_names=["cj"], categories=["all"],
          subresources=["status"], generation=True),
    ]
    for t in types:
        if t.storage == ("", "events") and t.group == "events.k8s.io":
            t.to_storage = event_v1_to_core
            t.from_storage = event_core_to_v1
    return types


# ---- events.k8s.io/v1 <-> core v1 Event (one storage, two shapes) ----------

_V1_TO_CORE = [("regarding", "involvedObject"), ("note", "message"), ("deprecatedSource", "source"),
               ("deprecatedFirstTimestamp", "firstTimestamp"),
               ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
               ("reportingController", "reportingComponent")]
_SAME = ["metadata", "eventTime", "series", "reason", "type", "action", "related",
         "reportingInstance"]


def event_v1_to_core(ev):
    out = {"kind": "Event", "apiVersion": "v1"}
    for k in _SAME:
        if k in ev:
            out[k] = ev[k]
    for a, b in _V1_TO_CORE:
        if a in ev:
            out[b] = ev[a]
    return out


def event_core_to_v1(ev):
    out = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for k in _SAME:
        if k in ev:
            out[k] = ev[k]
    for a, b in _V1_TO_CORE:
        if b in ev:
            out[a] = ev[b]
    return out


# ---- CustomResourceDefinitions -----------------------------------------------

def crd_types(crd):
    """ResourceTypes for every served version of a CRD object."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = v.get("subresources") or {}
        subresources = [s for s in ("status", "scale") if s in subs]
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        t = ResourceType(
            spec.get("group", ""), v.get("name", "v1"), names.get("plural", ""),
            names.get("kind", ""), namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
            singular=names.get("singular") or names.get("kind", "").lower(),
            subresources=subresources, generation=True, builtin=False, schema=schema,
            printer_columns=v.get("additionalPrinterColumns") or [],
            scale=subs.get("scale"), list_kind=names.get("listKind"), smp=False)
        out.append(t)
    return out


class Registry:
    """Every served ResourceType, looked up by (group, version, plural)."""

    def __init__(self):
        self.types = {}
        self.order = []       # (group, version, plural) in registration order
        for t in builtin_types():
            self.add(t)

    def add(self, t):
        key = (t.group, t.version, t.plural)
        if key not in self.types:
            self.order.append(key)
        self.types[key] = t

    def remove_group_resource(self, group, plural):
        for key in [k for k in self.order if k[0] == group and k[2] == plural]:
            self.order.remove(key)
            del self.types[key]

    def get(self, group, version, plural):
        return self.types.get((group, version, plural))

    def by_storage(self, storage):
        return [self.types[k] for k in self.order if self.types[k].storage == storage]

    def by_kind(self, api_version, kind):
        for k in self.order:
            t = self.types[k]
            if t.api_version == api_version and t.kind == kind:
                return t
        return None

    def groups(self):
        """[(group, [versions...])] in first-registration order."""
        seen = {}
        for g, v, _ in self.order:
            seen.setdefault(g, [])
            if v not in seen[g]:
                seen[g].append(v)
        return list(seen.items())

    # -- discovery documents --------------------------------------------------
    def api_versions(self, server_address):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": server_address}]}

    @staticmethod
    def _preferred(versions):
        # Kubernetes version priority: GA > beta > alpha, then higher number.
        import re

        def prio(v):
            m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
            if not m:
                return (0, 0, 0)
            stage = {None: 3, "beta": 2, "alpha": 1}[m.group(2)]
            return (stage, int(m.group(1)), int(m.group(3) or 0))
        return sorted(versions, key=prio, reverse=True)

    def api_group(self, group):
        versions = dict(self.groups()).get(group)
        if not versions or group == "":
            return None
        vs = self._preferred(versions)
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
                "versions": [{"groupVersion": group + "/" + v, "version": v} for v in vs],
                "preferredVersion": {"groupVersion": group + "/" + vs[0], "version": vs[0]}}

    def api_group_list(self):
        groups = []
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        builtin = {t.group for t in self.types.values() if t.builtin}
        first = {g: i for i, (g, _) in enumerate(self.groups())}
        names = sorted(first, key=lambda g: (g not in builtin, order.get(g, len(order)), first[g]))
        for g in names:
            if g == "":
                continue
            d = self.api_group(g)
            del d["kind"], d["apiVersion"]
            groups.append(d)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group, version):
        keys = [k for k in self.order if k[0] == group and k[1] == version]
        if not keys:
            return None
        types = [self.types[k] for k in keys]
        if all(t.builtin for t in types):
            types.sort(key=lambda t: t.plural)
        res = []
        for t in types:
            res.extend(t.discovery_entries())
        gv = version if not group else group + "/" + version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": res}
