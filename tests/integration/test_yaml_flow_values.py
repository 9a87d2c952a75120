"""test_yaml_flow_values.py - no YAML file under deploy/ or examples/ has a
flow collection ({...}, [...]) in which an unquoted comma or ": " splits
what was meant as one value (issue 14: an unquoted description with commas
in deploy/crds/alertproviders.yaml made "Discord" and "Rocket.Chat);
default general." keys of the CRD's schema, which a real API server
rejects). The checker is tests/tools/yaml_flow_check.py; this test first
shows that it catches that very line and its relatives, then runs it on
every YAML file of deploy/ and examples/ (a Helm chart's templates are
Go templates: test_helm_chart.py checks what they render)."""
import os
import subprocess
import sys

SRC = os.environ.get("CANARYD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testlib  # noqa: E402
import yaml_flow_check  # noqa: E402

# the line of issue 14, as it was in deploy/crds/alertproviders.yaml
OLD = """spec:
  properties:
    channel: {type: string, description: Channel (Slack, Discord, Rocket.Chat); default general.}
"""

BAD = {
    "issue 14's description": OLD,
    "comma in a flow-mapping value": "a: {description: Bot user name, default flagger}\n",
    "colon-space in a flow-sequence item": "args: [--mode, note: this is one argument]\n",
    "comma cutting a parenthesis in a flow sequence": "enum: [Channel (Slack, Discord)]\n",
    "nested flow mapping": "x: [{name: a, value: one, two}]\n",
}
GOOD = {
    "quoted description": 'c: {type: string, description: "Channel (Slack, Discord)"}\n',
    "explicit null value": "status: {conditions: }\n",
    "flow sequence of words": "enum: [slack, msteams, discord]\n",
    "URL in a flow mapping": "a: {url: http://example.com:8080/x}\n",
    "block scalar with commas": "description: The query, a template with {{ name }}, {{ target }}\n",
    "nested collections": "x: [{name: a, value: b}, [c, d], {e: {f: g}}]\n",
    "empty collections": "status: {}\nitems: []\n",
}


def main():
    check = testlib.check
    for name, text in BAD.items():
        probs = yaml_flow_check.check_text("t.yaml", text)
        check("caught: %s" % name, probs, text)
    probs = yaml_flow_check.check_text("alertproviders.yaml", OLD)
    check("issue 14's line is reported with its line and column, naming the split-off keys",
          any(p.startswith("alertproviders.yaml:3:") and "'Discord'" in p for p in probs) and
          any("'Rocket.Chat); default general.'" in p for p in probs), probs)
    for name, text in GOOD.items():
        probs = yaml_flow_check.check_text("t.yaml", text)
        check("accepted: %s" % name, not probs, probs)

    tool = os.path.join(SRC, "tests", "tools", "yaml_flow_check.py")
    dirs = ["deploy", "examples"]
    r = subprocess.run(["/usr/bin/python3", tool] + dirs, capture_output=True, text=True, cwd=SRC)
    n = sum(1 for d in dirs for root, _, fs in os.walk(os.path.join(SRC, d))
            for f in fs if f.endswith((".yaml", ".yml")) and
            not yaml_flow_check.is_helm_template(os.path.join(root, f)))
    check("there are YAML files to check under deploy/ and examples/", n >= 10, n)
    chart = os.path.join(SRC, "deploy", "helm", "canaryd")
    check("a Helm chart's templates are skipped, its values and crds/ are not",
          yaml_flow_check.is_helm_template(os.path.join(chart, "templates", "deployment.yaml")) and
          not yaml_flow_check.is_helm_template(os.path.join(chart, "values.yaml")) and
          not yaml_flow_check.is_helm_template(os.path.join(chart, "crds", "canaries.yaml")) and
          not yaml_flow_check.is_helm_template(os.path.join(SRC, "deploy", "kubernetes", "base",
                                                            "deployment.yaml")))
    check("no flow value of deploy/ or examples/ is split by an unquoted comma or colon",
          r.returncode == 0 and ("%d YAML files" % n) in r.stdout, r.stdout + r.stderr)
    return testlib.summary()


if __name__ == "__main__":
    sys.exit(main())
