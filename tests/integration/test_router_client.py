"""test_router_client.py - the C admin client (src/local/router_client.h) over
the unix admin socket: configuration get/put with versions, weights,
routes, validation errors reported with their paths, measurements,
samples, stats, and a clear error when the router is unreachable."""
import os
import subprocess

import rtlib

p = rtlib.Backend("primary")
c = rtlib.Backend("canary")
router = rtlib.Router({"routes": [rtlib.route("app", [p.address], [c.address])]},
                      admin_unix=True)
for i in range(20):
    rtlib.http_get(router.port, "/status?code=503" if i % 5 == 0 else "/")
rtlib.wait_for(lambda: router.admin("GET", "/measurements?route=app&group=primary&window=60")[1]
               ["groups"]["primary"]["requests"] >= 20)
out = subprocess.run([os.path.join(rtlib.BUILD, "rt_clientcheck"), "unix:" + router.admin_sock,
                      "app", p.address], capture_output=True, text=True, timeout=60)
lines = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
print(out.stdout)
rtlib.check("get_config", lines.get("get_config") == "ok version=1 routes=1", lines)
rtlib.check("set_weight then get_weight", lines.get("set_weight") == "ok" and
            lines.get("get_weight") == "ok canary=30 mirror=1", lines)
rtlib.check("an invalid weight is refused", lines.get("set_weight_bad") == "error")
rtlib.check("put_route and delete_route", lines.get("put_route") == "ok" and
            lines.get("delete_route") == "ok" and "404" in lines.get("delete_missing", ""), lines)
rtlib.check("a validation error names the field",
            "400" in lines.get("put_bad", "") and "routes[0].weight" in lines["put_bad"], lines)
rtlib.check("a stale version is refused (412)", "412" in lines.get("put_stale", ""), lines)
rtlib.check("the current version is accepted", lines.get("put_current", "").startswith("ok"), lines)
rtlib.check("measure: 16 of 20 primary requests succeeded",
            lines.get("measure", "").startswith("ok requests=20 errors=4 success=80.000 p99=number"),
            lines.get("measure"))
rtlib.check("samples: limited to 7", lines.get("samples") == "ok n=7", lines)
# the deleted route stays in the stats (marked retired) for --stats-retention
rtlib.check("stats", lines.get("stats") == "ok routes=2", lines)
rtlib.check("an unreachable router is an error", lines.get("unreachable") == "error", lines)
rtlib.finish()
