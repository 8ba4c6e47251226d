#!/usr/bin/python3
"""chatd's alerting rules, checked offline (ctest prometheus_rules):

- `promtool check rules` on deploy/k3s/monitoring/rules.yml;
- `promtool test rules` on tests/prometheus/*_test.yml (one file per rule group);
- prometheus-rule.yaml is what render-rules.py makes of rules.yml (the two never diverge);
- every alert: a unique name, severity critical or warning, a summary, a description and
  runbook_url docs/runbook.md#<its name in lower case>, an anchor that docs/runbook.md has
  (and the runbook has a section for no alert that is gone);
- every alert has, in those files, a case where it fires and one where it stays silent;
- every metric a rule reads is in docs/metrics.md (histograms by their base name).

  check_rules.py REPO [PROMTOOL]
"""
import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
PROMTOOL = sys.argv[2] if len(sys.argv) > 2 else shutil.which('promtool')
RULES = os.path.join(ROOT, 'deploy/k3s/monitoring/rules.yml')
TESTS = sorted(glob.glob(os.path.join(ROOT, 'tests/prometheus/*_test.yml')))  # one file per rule group
RUNBOOK = os.path.join(ROOT, 'docs/runbook.md')
METRICS = os.path.join(ROOT, 'docs/metrics.md')
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    print(f'$ {" ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}\n{out}')
    check(r.returncode == 0, f'{" ".join(cmd)} failed (exit {r.returncode})')


def anchors(markdown):
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for m in re.finditer(r'^#{1,6}\s+(.+?)\s*$', markdown, re.M):
        text = re.sub(r'[`*_]', '', m.group(1)).strip().lower()
        found.add(re.sub(r'\s', '-', re.sub(r'[^\w\- ]', '', text)))
    return found


# Names of series: identifiers not followed by "(" (functions), outside strings and label
# matchers, minus PromQL's keywords.
KEYWORDS = {'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
            'offset', 'bool', 'sum', 'count', 'min', 'max', 'avg', 'inf', 'nan'}


def series_names(expr):
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)             # strings
    expr = re.sub(r'\{[^}]*\}', '{}', expr)                      # label matchers
    expr = re.sub(r'\b(by|without|on|ignoring)\s*\([^)]*\)', '', expr)  # label lists
    expr = re.sub(r'\[[^\]]*\]', '', expr)                       # ranges
    expr = re.sub(r'\boffset\s+\w+', '', expr)
    names = set()
    for m in re.finditer(r'(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()', expr):
        if m.group(1).lower() not in KEYWORDS:
            names.add(m.group(1))
    return names


def main():
    if not PROMTOOL:
        sys.exit('promtool not found: run deploy/dev/install-deps.sh (Debian package prometheus)')
    run([PROMTOOL, 'check', 'rules', RULES])
    check(len(TESTS) > 0, 'no tests/prometheus/*_test.yml')
    run([PROMTOOL, 'test', 'rules', *TESTS])
    run([sys.executable, os.path.join(ROOT, 'deploy/k3s/monitoring/render-rules.py'), '--check'])

    with open(RULES) as f:
        groups = yaml.safe_load(f)['groups']
    with open(RUNBOOK) as f:
        runbook = f.read()
    with open(METRICS) as f:
        documented = set(re.findall(r'\b((?:chatd|process)_\w+)', f.read()))
    tests = []
    for path in TESTS:
        with open(path) as f:
            tests += yaml.safe_load(f)['tests']

    fires, silent = set(), set()
    for t in tests:
        for case in t.get('alert_rule_test', []):
            (fires if case.get('exp_alerts') else silent).add(case['alertname'])

    alerts = []
    headings = anchors(runbook)
    for g in groups:
        for r in g['rules']:
            if 'alert' not in r:
                continue
            name = r['alert']
            alerts.append(name)
            labels, notes = r.get('labels', {}), r.get('annotations', {})
            check(labels.get('severity') in ('critical', 'warning'), f'{name}: severity critical or warning')
            for a in ('summary', 'description'):
                check(notes.get(a, '').strip(), f'{name}: a {a} annotation')
            url = notes.get('runbook_url', '')
            check(url == f'docs/runbook.md#{name.lower()}', f'{name}: runbook_url docs/runbook.md#{name.lower()} (is {url!r})')
            check(name.lower() in headings, f'{name}: docs/runbook.md has a heading "{name}"')
            check(name in fires, f'{name}: a case in tests/prometheus/*_test.yml where it fires')
            check(name in silent, f'{name}: a case in tests/prometheus/*_test.yml where it stays silent')
            for s in sorted(series_names(r['expr'])):
                base = re.sub(r'_(bucket|count|sum)$', '', s)
                check(s == 'up' or s in documented or base in documented,
                      f'{name}: {s} is not in docs/metrics.md')
    check(len(alerts) == len(set(alerts)), 'alert names are unique')
    sections = set(re.findall(r'^#{2,4}\s+(Chatd\w+)\s*$', runbook, re.M))
    gone = sections - set(alerts)
    check(not gone, f'docs/runbook.md has sections for alerts rules.yml does not have: {sorted(gone)}')
    tested = fires | silent
    check(tested <= set(alerts), f'tests/prometheus/*_test.yml test alerts rules.yml does not have: {sorted(tested - set(alerts))}')

    for f in failures:
        print('FAIL:', f)
    print(f'{len(failures)} failed' if failures else
          f'{len(alerts)} alerts: promtool check and tests, the PrometheusRule, annotations, runbook and metrics all agree')
    sys.exit(1 if failures else 0)


main()
