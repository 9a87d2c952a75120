"""grafana_exporters.py - the routers' series for test_grafana_dashboards:
starts the exporters the router tests use (each written from its project's
metric names and labels), one per router, each serving a primary and a
canary side of the Canary "podinfo" in namespace "test" with traffic,
some errors and latency; writes their addresses as a Prometheus file_sd
list to argv[1], then serves until stdin closes. It only serves numbers.

App Mesh is not here: the test reads canaryd local's own router for it."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from istio_env import IstioExporter  # noqa: E402
from gateway_env import AppExporter  # noqa: E402
from test_kube_apisix_canary import ApisixExporter, CANARY_ROUTE as APISIX_CANARY  # noqa: E402
from test_kube_contour_canary import ContourEnvoyExporter  # noqa: E402
from test_kube_kuma_canary import KumaEnvoyExporter  # noqa: E402
from test_kube_nginx_canary import NginxExporter  # noqa: E402
from test_kube_skipper_canary import SkipperExporter, CANARY_ROUTE as SK_CANARY, PRIMARY_ROUTE as SK_PRIMARY  # noqa: E402
from test_kube_smi_canary import MeshExporter  # noqa: E402
from test_kube_traefik_canary import TraefikExporter  # noqa: E402

NS = "test"


def both(exporter, primary, canary, unit=1.0):
    """primary and canary sides: 20 req/s each, 5 % and 10 % errors,
    20 ms and 30 ms (in the exporter's unit: 1 for ms, 0.001 for s)."""
    exporter.set(primary, 20.0, 0.05, 20 * unit)
    exporter.set(canary, 20.0, 0.10, 30 * unit)
    return exporter


def start():
    ex = []
    istio = IstioExporter()
    istio.set_workloads(NS, {"podinfo-primary": (20.0, 0.05, 20), "podinfo": (20.0, 0.10, 30)})
    ex.append(istio)
    app = AppExporter()
    app.set_pods(NS, {"podinfo-primary-5f6a7b8c9-klmno": (20.0, 0.05, 0.02),
                      "podinfo-6b8f9c7d54-v2pod": (20.0, 0.10, 0.03)})
    ex.append(app)
    ex.append(both(MeshExporter("linkerd"), "podinfo-primary", "podinfo"))
    ex.append(both(MeshExporter("osm"), "podinfo-primary", "podinfo"))
    ex.append(both(NginxExporter(), "", "test-podinfo-canary-80", 0.001))
    ex.append(both(ContourEnvoyExporter(), "test_podinfo-primary_80", "test_podinfo-canary_80"))
    # Gloo's Envoy names a cluster <upstream>_<upstream namespace>, Flagger's
    # upstreams being <ns>-<target>-{primary,canary}upstream-<port>
    ex.append(both(ContourEnvoyExporter(), "test-podinfo-primaryupstream-9898_test",
                   "test-podinfo-canaryupstream-9898_test"))
    # Knative's Envoy (net-kourier/net-istio) cluster <ns>/<route>: the
    # canary's revision only, as Flagger's query reads it
    kn = ContourEnvoyExporter()
    kn.set("test/podinfo", 20.0, 0.10, 30)
    ex.append(kn)
    ex.append(both(TraefikExporter(), "test-podinfo-primary-80@kubernetescrd",
                   "test-podinfo-canary-80@kubernetescrd", 0.001))
    ex.append(both(KumaEnvoyExporter(), "podinfo-primary_test_svc_9898", "podinfo-canary_test_svc_9898"))
    ex.append(both(SkipperExporter(), SK_PRIMARY, SK_CANARY, 0.001))
    ap = ApisixExporter()
    ap.set(APISIX_CANARY, 20.0, 0.10, 30)
    ex.append(ap)
    return ex


def main():
    ex = start()
    with open(argv_out := sys.argv[1] + ".tmp", "w") as f:
        json.dump([{"targets": ["127.0.0.1:%d" % e.port for e in ex], "labels": {"job": "routers"}}], f)
    os.rename(argv_out, sys.argv[1])
    print("serving %d exporters" % len(ex), flush=True)
    sys.stdin.read()
    for e in ex:
        e.close()


if __name__ == "__main__":
    main()
