#!/usr/bin/python3
"""Writes prometheus-rule.yaml, the PrometheusRule of the Prometheus Operator, from rules.yml,
the plain Prometheus rule file, so the two never diverge: rules.yml is the source.

  render-rules.py                  write prometheus-rule.yaml beside this script
  render-rules.py --check          exit 1 (saying so) if prometheus-rule.yaml is not what
                                   rules.yml makes (ctest prometheus_rules runs this)
  render-rules.py --runbook-base URL [--plain]
                                   print the PrometheusRule (or, with --plain, the rule file)
                                   with every runbook_url prefixed by URL, e.g.
                                   https://github.com/ORG/chatd/blob/main/ (docs/runbook.md)

The rules are copied as text, indented under `spec:`, so the comments that explain each
threshold stay in both files; the result is then parsed to make sure its groups equal
rules.yml's. Needs python3 and Debian's python3-yaml.
"""
import argparse
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, 'rules.yml')
OUTPUT = os.path.join(HERE, 'prometheus-rule.yaml')

HEADER = """\
# GENERATED from rules.yml by render-rules.py: edit rules.yml, then run
#   deploy/k3s/monitoring/render-rules.py
# (ctest prometheus_rules fails while the two differ). What each alert means and what to
# do: docs/runbook.md.
#
# chatd's alerting rules as a PrometheusRule for the Prometheus Operator
# (kube-prometheus-stack). Its Prometheus loads the PrometheusRules its ruleSelector
# matches: kube-prometheus-stack's default selects the label release: <its Helm release>,
# here "prometheus" (`helm install prometheus prometheus-community/kube-prometheus-stack`);
# change it to your release's name, or drop it where ruleSelectorNilUsesHelmValues is
# false. Its ruleNamespaceSelector must include the namespace this is applied in.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: chat-service
  labels:
    release: prometheus
spec:
"""


def body(text):
    """rules.yml from its `groups:` line on (its own header comment is about rules.yml)."""
    m = re.search(r'^groups:', text, re.M)
    if not m:
        sys.exit(f'{RULES}: no top-level "groups:"')
    return text[m.start():]


def with_runbook_base(text, base):
    if not base.endswith('/'):
        base += '/'
    return re.sub(r'^(\s*runbook_url: )(docs/runbook\.md#)', lambda m: m.group(1) + base + m.group(2), text,
                  flags=re.M)


def render(text):
    indented = ''.join(('  ' + line if line.strip() else line) for line in body(text).splitlines(True))
    out = HEADER + indented
    # The copy must mean exactly what rules.yml means.
    rule = yaml.safe_load(out)
    if rule['spec']['groups'] != yaml.safe_load(text)['groups']:
        sys.exit('render-rules.py: the PrometheusRule does not parse back to the groups of rules.yml')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--check', action='store_true', help='compare with prometheus-rule.yaml instead of writing it')
    ap.add_argument('--runbook-base', help='print with runbook_url prefixed by this URL')
    ap.add_argument('--plain', action='store_true', help='with --runbook-base: print the plain rule file')
    args = ap.parse_args()
    with open(RULES) as f:
        text = f.read()

    if args.runbook_base:
        text = with_runbook_base(text, args.runbook_base)
        sys.stdout.write(text if args.plain else render(text))
        return
    out = render(text)
    if args.check:
        try:
            with open(OUTPUT) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != out:
            sys.exit(f'{OUTPUT} is not what rules.yml makes: run {os.path.relpath(__file__)}')
        print(f'{os.path.basename(OUTPUT)} agrees with rules.yml')
        return
    with open(OUTPUT, 'w') as f:
        f.write(out)
    print(f'wrote {OUTPUT}')


main()
