"""selectors.py - label selectors (labels.Parse syntax: =, ==, !=, in, notin,
exists, !exists) and field selectors (=, ==, != on the fields a resource
supports). Parsing errors raise ApiError 400 with apimachinery's wording.
Pure."""
import re

from .errors import bad_request
from .util import get_path

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _split_top(s):
    """Splits on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


class LabelSelector:
    """A parsed selector: list of (key, op, values)."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = []
        if not self.text.strip():
            return
        for raw in _split_top(self.text):
            self.reqs.append(self._parse_req(raw.strip()))

    def _bad(self, why):
        return bad_request("unable to parse requirement: %s" % why)

    def _check_key(self, key):
        if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
            raise self._bad('invalid label key "%s": name part must consist of alphanumeric '
                            "characters, '-', '_' or '.', and must start and end with an "
                            "alphanumeric character" % key)
        return key

    def _parse_req(self, r):
        if not r:
            raise bad_request("found '', expected: identifier")
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", r)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip() != ""]
            if not vals and m.group(3).strip() == "":
                raise self._bad("for 'in', 'notin' operators, values set can't be empty")
            return (self._check_key(m.group(1)), m.group(2), set(vals))
        for op in ("!=", "==", "="):
            if op in r:
                k, v = r.split(op, 1)
                k, v = k.strip(), v.strip()
                if op == "==":
                    op = "="
                if v and not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", v):
                    raise self._bad('invalid label value: "%s"' % v)
                return (self._check_key(k), op, {v})
        if r.startswith("!"):
            return (self._check_key(r[1:].strip()), "!exists", set())
        if re.search(r"[\s()<>]", r):
            raise bad_request("unable to parse requirement: found '%s', expected: "
                              "in, notin, =, ==, !=, gt, lt" % r)
        return (self._check_key(r), "exists", set())

    def matches(self, labels):
        labels = labels or {}
        for key, op, vals in self.reqs:
            has = key in labels
            v = labels.get(key)
            if op == "=" and not (has and v in vals):
                return False
            if op == "!=" and has and v in vals:
                return False
            if op == "in" and not (has and v in vals):
                return False
            if op == "notin" and has and v in vals:
                return False
            if op == "exists" and not has:
                return False
            if op == "!exists" and has:
                return False
        return True

    def empty(self):
        return not self.reqs


class FieldSelector:
    def __init__(self, text, rt):
        self.text = text or ""
        self.reqs = []
        if not self.text.strip():
            return
        for raw in self.text.split(","):
            raw = raw.strip()
            m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", raw)
            if not m:
                raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\''
                                  % (self.text, raw))
            field, op, value = m.group(1), m.group(2), m.group(3)
            if field not in rt.field_selectors:
                raise bad_request('Unable to find "%s, Resource=%s" that match label selector "", '
                                  'field selector "%s": field label not supported: %s'
                                  % (rt.api_version, rt.plural, self.text, field))
            self.reqs.append((field, "!=" if op == "!=" else "=", value))

    def matches(self, obj):
        for field, op, value in self.reqs:
            if field == "source":
                have = get_path(obj, "source.component")
            else:
                have = get_path(obj, field)
            if have is None:
                have = ""
            if isinstance(have, bool):
                have = "true" if have else "false"
            have = str(have)
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
        return True

    def empty(self):
        return not self.reqs

    def single_name(self):
        for f, op, v in self.reqs:
            if f == "metadata.name" and op == "=":
                return v
        return None
