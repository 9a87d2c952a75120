#!/usr/bin/python3
"""yaml_flow_check.py - finds the places in YAML files where a flow
collection ({...} or [...]) splits what its author meant as one value:
inside a flow collection a plain (unquoted) scalar ends at the first comma,
and ": " turns it into a key. So

    channel: {type: string, description: Channel (Slack, Discord, Rocket.Chat); default general.}

is a mapping with the keys type, description, "Discord" and
"Rocket.Chat); default general." (the last two with null values): valid
YAML, silently the wrong document. Reported, with file:line:column:

  - an entry of a flow mapping that has no value indicator (`{a: x, b}`:
    "b" is a key without a value; what YAML sets are for, which no
    Kubernetes manifest uses);
  - an entry of a flow sequence that is a key: value pair (`[a b: c]`:
    YAML made a one-pair mapping of what reads as one string);
  - a plain scalar inside a flow collection whose parentheses do not
    balance (`[Channel (Slack, Discord)]`: the comma cut a parenthesis).

Usage: yaml_flow_check.py FILE_OR_DIR...   (directories: every *.yaml,
*.yml below them but a Helm chart's templates/). Exit status 1 when something is reported, 2 when a file
does not parse. Standard library plus Debian's python3-yaml; tests only."""
import os
import sys

import yaml


def is_helm_template(path):
    """A file under the templates/ directory of a Helm chart (beside its
    Chart.yaml): Go template text, not YAML; check what `helm template`
    renders instead (tests/integration/test_helm_chart.py does)."""
    d = os.path.dirname(os.path.abspath(path))
    while os.path.basename(d) and os.path.basename(d) != "templates":
        d = os.path.dirname(d)
    return os.path.basename(d) == "templates" and os.path.exists(os.path.join(os.path.dirname(d), "Chart.yaml"))


def _files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for n in sorted(names):
                    if n.endswith((".yaml", ".yml")) and not is_helm_template(os.path.join(root, n)):
                        yield os.path.join(root, n)
        else:
            yield p


def _where(name, mark):
    return "%s:%d:%d" % (name, mark.line + 1, mark.column + 1)


class _Frame:
    """One open flow collection and what its current entry has seen."""

    def __init__(self, is_map, mark):
        self.is_map = is_map
        self.mark = mark
        self.entry_start = None     # first token of the current entry
        self.entry_text = None      # first scalar of the current entry
        self.has_key = False
        self.has_value = False

    def reset(self):
        self.entry_start = None
        self.entry_text = None
        self.has_key = False
        self.has_value = False


def _unbalanced(s):
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return True
    return depth != 0


def check_text(name, text):
    """Returns a list of "file:line:col: message" strings for text; raises
    yaml.YAMLError when it does not parse."""
    problems = []
    stack = []

    def close_entry(f):
        if f.entry_start is None:
            return
        what = repr(f.entry_text) if f.entry_text is not None else "entry"
        if f.is_map and not f.has_value:
            problems.append("%s: flow mapping entry %s has no value: an unquoted comma in the "
                            "value before it split that value (quote the value)"
                            % (_where(name, f.entry_start), what))
        if not f.is_map and (f.has_key or f.has_value):
            problems.append("%s: flow sequence entry %s became a key: value pair: an unquoted "
                            "\": \" split one string (quote it)"
                            % (_where(name, f.entry_start), what))
        f.reset()

    for tok in yaml.scan(text, Loader=yaml.SafeLoader):
        top = stack[-1] if stack else None
        if isinstance(tok, (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)):
            if top is not None and top.entry_start is None:
                top.entry_start = tok.start_mark
            stack.append(_Frame(isinstance(tok, yaml.FlowMappingStartToken), tok.start_mark))
            continue
        if isinstance(tok, (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)):
            if top is not None:
                close_entry(top)
                stack.pop()
            continue
        if top is None:
            continue
        if isinstance(tok, yaml.FlowEntryToken):
            close_entry(top)
            continue
        if top.entry_start is None:
            top.entry_start = tok.start_mark
        if isinstance(tok, yaml.KeyToken):
            top.has_key = True
        elif isinstance(tok, yaml.ValueToken):
            top.has_value = True
        elif isinstance(tok, yaml.ScalarToken):
            if top.entry_text is None:
                top.entry_text = tok.value
            if tok.plain and _unbalanced(tok.value):
                problems.append("%s: plain scalar %r in a flow collection has unbalanced "
                                "parentheses: an unquoted comma cut it (quote the value)"
                                % (_where(name, tok.start_mark), tok.value))
    return problems


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    status = 0
    n = 0
    for path in _files(argv):
        n += 1
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            problems = check_text(path, text)
        except yaml.YAMLError as e:
            print("%s: does not parse: %s" % (path, e))
            status = 2
            continue
        for p in problems:
            print(p)
        if problems and status == 0:
            status = 1
    if status == 0:
        print("%d YAML files: no flow value split by an unquoted comma or colon" % n)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
