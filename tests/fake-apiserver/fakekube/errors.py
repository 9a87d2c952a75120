"""errors.py - Kubernetes `Status` objects and the exception that carries them.

Every failure the fake API server reports goes through ApiError so that the
body is a Status shaped exactly like the recordings in
shared/conformance/kube-api/ (key order included). No I/O here.
"""


class ApiError(Exception):
    """An error answered as a metav1.Status with an HTTP code."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def qualified(rt):
    """`deployments.apps`, `canaries.flagger.app`, `pods` (core)."""
    return rt.plural + ("." + rt.group if rt.group else "")


def _details(rt, name, kind=None, uid=None):
    d = {"name": name}
    if rt.group and not rt.status_group_hidden:
        d["group"] = rt.group
    d["kind"] = kind or rt.plural
    if uid:
        d["uid"] = uid
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rt), name), _details(rt, name))


def namespace_not_found(ns):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(rt), name),
                    _details(rt, name))


def conflict(rt, name, why="the object has been modified; please apply your changes to the "
                          "latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (qualified(rt), name, why), _details(rt, name))


def precondition_failed(rt, name, what, want, have):
    return conflict(rt, name, "Precondition failed: %s in precondition: %s, %s in object meta: %s"
                    % (what, want, what, have))


def invalid(rt, name, causes):
    """causes: list of (reason, field, message). Message format of
    apimachinery's NewInvalid: one cause bare, several in brackets."""
    parts = ["%s: %s" % (f, m) if f else m for (_, f, m) in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    kind = rt.kind + ("." + rt.group if rt.group and not rt.status_group_hidden else "")
    details = {"name": name}
    if rt.group and not rt.status_group_hidden:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for (r, f, m) in causes]
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, joined), details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource", {})


def resource_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def unsupported_media_type(accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(accepted), {})


def not_acceptable(accepted):
    return ApiError(406, "NotAcceptable",
                    "only the following media types are accepted: " + ", ".join(accepted), {})


def expired(message="The resourceVersion for the provided list is too old."):
    return ApiError(410, "Expired", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(rt, name, why):
    return ApiError(403, "Forbidden", '%s "%s" is forbidden: %s' % (qualified(rt), name, why),
                    _details(rt, name))


def internal(message):
    return ApiError(500, "InternalError", "Internal error occurred: " + message,
                    {"causes": [{"message": message}]})


def from_code(code, message):
    """An injected failure with the reason real servers use for that code."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               409: "Conflict", 410: "Expired", 422: "Invalid", 429: "TooManyRequests",
               500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
    reason = reasons.get(code, "Unknown")
    if code == 500:
        return internal(message)
    if code == 429:
        return ApiError(429, reason, "Too many requests, please try again later.",
                        {"retryAfterSeconds": 1}, {"Retry-After": "1"})
    return ApiError(code, reason, message, {} if code >= 500 else None)
