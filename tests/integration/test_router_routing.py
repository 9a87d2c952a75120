"""test_router_routing.py - which group a request goes to: A/B match rules
on headers (exact, prefix, suffix, regex) and cookies, as Flagger's
analysis.match (with weight 100 during the test, 0 after it); the sticky
session-affinity cookie with its attributes, the primary cookie, and the
expiry once the canary has no weight; routes chosen by host and longest
path prefix, and 404 without a route."""
import rtlib

primary = rtlib.Backend("primary")
canary = rtlib.Backend("canary")
other = rtlib.Backend("other")
P, C = [primary.address], [canary.address]

config = {"routes": [
    rtlib.route("ab", P, C, weight=100, hosts=["ab.example.com"], match=[
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
        {"headers": {"x-tier": {"prefix": "gold"}, "x-region": {"suffix": "-eu"}}},
        {"cookies": {"type": {"exact": "insider"}}},
    ]),
    rtlib.route("sticky", P, C, weight=50, hosts=["sticky.example.com"], sessionAffinity={
        "cookieName": "flagger-cookie", "maxAge": 3600, "path": "/", "domain": "example.com",
        "secure": True, "httpOnly": True, "sameSite": "Strict",
        "primaryCookieName": "flagger-primary", "primaryMaxAge": 60}),
    rtlib.route("api", [other.address], hosts=["*.example.com"], pathPrefix="/api"),
    rtlib.route("apex", P, C, hosts=["app.example.com"]),
]}
router = rtlib.Router(config)


def who(host, path="/", headers=None):
    h = {"Host": host}
    h.update(headers or {})
    st, hs, body = rtlib.http_get(router.port, path, h)
    return st, rtlib.backend_of(body), hs


# ---- A/B ----
cases = [
    ({"X-Canary": "insider"}, "canary", "exact header"),
    ({"X-Canary": "insiders"}, "primary", "exact header, other value"),
    ({"User-Agent": "Mozilla/5.0 Firefox/120.0"}, "canary", "regex header"),
    ({"User-Agent": "curl/8"}, "primary", "regex header, no match"),
    ({"X-Tier": "gold-plus", "X-Region": "west-eu"}, "canary", "prefix and suffix together"),
    ({"X-Tier": "gold-plus"}, "primary", "prefix alone (both are required)"),
    ({"Cookie": "a=1; type=insider; b=2"}, "canary", "cookie"),
    ({"Cookie": "type=insider2"}, "primary", "cookie, other value"),
    ({}, "primary", "no header"),
]
for headers, want, what in cases:
    results = {who("ab.example.com", headers=headers)[1] for _ in range(20)}
    rtlib.check("A/B %s -> %s" % (what, want), results == {want}, results)

router.set_weight("ab", 0)
results = {who("ab.example.com", headers={"X-Canary": "insider"})[1] for _ in range(20)}
rtlib.check("A/B after the test (weight 0): matching requests go to the primary",
            results == {"primary"}, results)

# ---- session affinity ----
saw_canary_cookie = None
saw_primary_cookie = None
for _ in range(200):
    st, b, hs = who("sticky.example.com")
    for sc in hs["_set_cookie_all"]:
        if sc.startswith("flagger-cookie=") and b == "canary":
            saw_canary_cookie = sc
        if sc.startswith("flagger-primary=") and b == "primary":
            saw_primary_cookie = sc
    if saw_canary_cookie and saw_primary_cookie:
        break
rtlib.check("a request routed to the canary gets the affinity cookie", saw_canary_cookie,
            saw_canary_cookie)
attrs = (saw_canary_cookie or "").split("; ")
rtlib.check("the cookie carries Max-Age, Domain, HttpOnly, Path, SameSite, Secure",
            attrs[1:] == ["Max-Age=3600", "Domain=example.com", "HttpOnly", "Path=/",
                          "SameSite=Strict", "Secure"], attrs)
rtlib.check("a request routed to the primary gets the primary cookie (Max-Age 60)",
            saw_primary_cookie and "Max-Age=60" in saw_primary_cookie, saw_primary_cookie)
cookie = attrs[0]
sticky = {who("sticky.example.com", headers={"Cookie": cookie})[1] for _ in range(100)}
rtlib.check("with the cookie, 100 requests stay on the canary", sticky == {"canary"}, sticky)
pcookie = (saw_primary_cookie or "x=y").split("; ")[0]
pin = {who("sticky.example.com", headers={"Cookie": pcookie})[1] for _ in range(100)}
rtlib.check("with the primary cookie, 100 requests stay on the primary", pin == {"primary"}, pin)
wrong = {who("sticky.example.com", headers={"Cookie": "flagger-cookie=forged"})[1]
         for _ in range(200)}
rtlib.check("a forged cookie value is not sticky", wrong == {"primary", "canary"}, wrong)

router.set_weight("sticky", 0)
st, b, hs = who("sticky.example.com", headers={"Cookie": cookie})
expire = [c for c in hs["_set_cookie_all"] if c.startswith(cookie + "; Max-Age=-1")]
rtlib.check("once the canary has no weight, the cookie's request goes to the primary",
            b == "primary", b)
rtlib.check("... and the cookie is expired (Max-Age=-1)", expire, hs["_set_cookie_all"])

# the cookie value survives unrelated configuration changes
st, conf, _ = router.admin("GET", "/routes/sticky")
router.set_weight("sticky", 50)
st2, conf2, _ = router.admin("GET", "/routes/sticky")
rtlib.check("the generated cookie value is kept across changes",
            conf["sessionAffinity"]["cookieValue"] == conf2["sessionAffinity"]["cookieValue"]
            and cookie.endswith("=" + conf["sessionAffinity"]["cookieValue"]), (conf, conf2))

# ---- hosts and paths ----
rtlib.check("longest path prefix wins over the host's catch-all route",
            who("app.example.com", "/api/v1")[1] == "other")
rtlib.check("wildcard host", who("x.example.com", "/api")[1] == "other")
rtlib.check("host match ignores the port and case",
            who("APP.example.com:8080", "/")[1] == "primary")
st, b, _ = who("nowhere.test", "/")
rtlib.check("no route: 404", st == 404, st)
rtlib.finish()
