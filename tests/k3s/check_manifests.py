#!/usr/bin/python3
"""Offline checks of deploy/k3s, deploy/k3s/monitoring and deploy/Dockerfile (no cluster, no
container engine here).

Renders the kustomization with kustomize (or `kubectl kustomize`), parses the YAML and
asserts what a cluster would otherwise tell us only at run time: probes on the actuator
paths and the container's port, the original's environment from the ConfigMap and the
Secret, CHAT_LUA_DIR equal to the scripts' mount path, the mounted tree equal to lua/
(byte for byte), resources and the hardening set, a grace period longer than preStop plus
chatd's own stop deadline, and a Dockerfile whose runtime stage has every shared library
chatd links and the same non-root user the pod runs as. The monitoring kustomization: the
dashboard's ConfigMap for Grafana's sidecar (the JSON parses, every panel has a query on
the ${datasource} variable whose selectors all carry the job and pod variables), the
ServiceMonitor selecting the Service's port, and the PrometheusRule equal to rules.yml.

  check_manifests.py REPO [CHATD_BINARY]
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
CHATD = sys.argv[2] if len(sys.argv) > 2 else None
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def render(folder='deploy/k3s'):
    kustomize = os.environ.get('KUSTOMIZE') or shutil.which('kustomize')
    if kustomize:
        cmd = [kustomize, 'build', os.path.join(ROOT, folder)]
    elif shutil.which('kubectl'):
        cmd = ['kubectl', 'kustomize', os.path.join(ROOT, folder)]
    else:
        sys.exit('neither kustomize nor kubectl found: run deploy/dev/install-deps.sh')
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(f'{folder} rendered with', ' '.join(cmd[:2]))
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs, kind, name):
    found = [d for d in docs if d['kind'] == kind and d['metadata']['name'] == name]
    check(len(found) == 1, f'exactly one {kind} {name} (found {len(found)})')
    return found[0] if found else {}


def default_shutdown_ms():
    with open(os.path.join(ROOT, 'core/config.c')) as f:
        m = re.search(r'"CHAT_SHUTDOWN_TIMEOUT_MS",\s*(\d+)', f.read())
    return int(m.group(1))


def lua_files():
    base = os.path.join(ROOT, 'lua')
    files = set()
    for d, _, names in os.walk(base):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), base)
            if rel != 'kustomization.yaml':  # the generator itself is not a script
                files.add(rel)
    return files


def check_manifests(docs):
    env_cm = one(docs, 'ConfigMap', 'chat-service-env')
    secret = one(docs, 'Secret', 'chat-service-secret')
    lua_cm = one(docs, 'ConfigMap', 'chat-service-lua')
    dep = one(docs, 'Deployment', 'chat-service')
    svc = one(docs, 'Service', 'chat-service')
    if failures:
        return

    spec = dep['spec']
    pod = spec['template']['spec']
    check(spec['replicas'] == 2, 'two replicas')
    containers = pod['containers']
    check(len(containers) == 1, 'one container')
    c = containers[0]
    ports = {p.get('name'): p['containerPort'] for p in c.get('ports', [])}
    check(ports.get('http') == 8084, 'container port http = 8084')

    def port_of(ref):
        return ports.get(ref) if isinstance(ref, str) else ref

    for probe, path in (('readinessProbe', '/actuator/health/readiness'),
                        ('livenessProbe', '/actuator/health/liveness')):
        g = c.get(probe, {}).get('httpGet', {})
        check(g.get('path') == path, f'{probe} GET {path}')
        check(port_of(g.get('port')) == 8084, f'{probe} on port 8084')

    # The original's variables: from the ConfigMap, the password from the Secret only.
    refs = {('configMapRef' in e and 'cm') or 'secret': (e.get('configMapRef') or e.get('secretRef'))['name']
            for e in c.get('envFrom', [])}
    check(refs.get('cm') == 'chat-service-env', 'envFrom ConfigMap chat-service-env')
    check(refs.get('secret') == 'chat-service-secret', 'envFrom Secret chat-service-secret')
    data = env_cm.get('data', {})
    for var in ('SERVER_PORT', 'SPRING_DATASOURCE_URL', 'SPRING_DATASOURCE_USERNAME',
                'SPRING_DATA_REDIS_HOST', 'SPRING_DATA_REDIS_PORT', 'SPRING_KAFKA_BOOTSTRAP_SERVERS',
                'SPRING_KAFKA_CONSUMER_GROUP_ID', 'SPRING_APPLICATION_NAME'):
        check(var in data, f'chat-service-env sets {var}')
    check(data.get('SERVER_PORT') == '8084', 'SERVER_PORT = the container port')
    check(data.get('SPRING_DATASOURCE_URL', '').startswith('jdbc:postgresql://'), 'a JDBC URL')
    check(not any('PASSWORD' in k for k in data), 'no password in the ConfigMap')
    secret_keys = set(secret.get('stringData', {})) | set(secret.get('data', {}))
    check('SPRING_DATASOURCE_PASSWORD' in secret_keys, 'the Secret holds SPRING_DATASOURCE_PASSWORD')

    # The scripts: CHAT_LUA_DIR is the mount path of the ConfigMap volume.
    env = {e['name']: e.get('value') for e in c.get('env', [])}
    mounts = {m['name']: m for m in c.get('volumeMounts', [])}
    lua_dir = env.get('CHAT_LUA_DIR')
    check(lua_dir is not None, 'CHAT_LUA_DIR set')
    check(mounts.get('lua', {}).get('mountPath') == lua_dir, 'the scripts are mounted at CHAT_LUA_DIR')
    check(mounts.get('lua', {}).get('readOnly') is True, 'the scripts are mounted read-only')
    check(not mounts.get('lua', {}).get('subPath'), 'no subPath (a subPath mount never sees updates)')
    vols = {v['name']: v for v in pod.get('volumes', [])}
    cmvol = vols.get('lua', {}).get('configMap', {})
    check(cmvol.get('name') == 'chat-service-lua', 'the lua volume is the ConfigMap chat-service-lua')
    items = {i['key']: i['path'] for i in cmvol.get('items', [])}
    cm_data = lua_cm.get('data', {})
    check(set(items) == set(cm_data), f'volume items = ConfigMap keys: {set(items) ^ set(cm_data)}')
    check(all(p == k.replace('__', '/') for k, p in items.items()), 'each key maps back to its path')
    files = lua_files()
    mapped = set(items.values())
    check(mapped == files, f'the mounted tree equals lua/: differs by {sorted(mapped ^ files)} '
                           '(run deploy/k3s/sync-lua.sh)')
    for key, path in items.items():
        full = os.path.join(ROOT, 'lua', path)
        if os.path.isfile(full):
            with open(full) as f:
                check(cm_data.get(key) == f.read(), f'ConfigMap key {key} has the content of lua/{path}')

    res = c.get('resources', {})
    for kind in ('requests', 'limits'):
        for r in ('cpu', 'memory'):
            check(r in res.get(kind, {}), f'resources.{kind}.{r} set')

    # Stop: preStop, then chatd's own deadline, all within the grace period.
    pre = c.get('lifecycle', {}).get('preStop', {})
    cmd = pre.get('exec', {}).get('command', [])
    sleep_s = int(cmd[-1]) if len(cmd) == 2 and cmd[0] == 'sleep' else pre.get('sleep', {}).get('seconds')
    check(sleep_s is not None and 1 <= sleep_s <= 15, 'preStop sleeps a few seconds')
    shutdown_s = int(data.get('CHAT_SHUTDOWN_TIMEOUT_MS', default_shutdown_ms())) / 1000
    grace = pod.get('terminationGracePeriodSeconds', 30)
    check(sleep_s is not None and grace > sleep_s + shutdown_s,
          f'terminationGracePeriodSeconds {grace} > preStop {sleep_s} s + stop deadline {shutdown_s} s')

    drain_s = int(data.get('CHAT_SHUTDOWN_DRAIN_MS', '0')) / 1000
    check(drain_s < shutdown_s, f'CHAT_SHUTDOWN_DRAIN_MS {drain_s} s < the stop deadline {shutdown_s} s (chatd refuses otherwise)')
    notes = spec['template'].get('metadata', {}).get('annotations', {})
    check(notes.get('prometheus.io/scrape') == 'true', 'pod annotation prometheus.io/scrape "true"')
    check(notes.get('prometheus.io/path') == '/actuator/prometheus', 'pod annotation prometheus.io/path')
    check(notes.get('prometheus.io/port') == str(ports.get('http')), 'pod annotation prometheus.io/port = the http port')

    psc, csc = pod.get('securityContext', {}), c.get('securityContext', {})
    check(psc.get('runAsNonRoot') is True or csc.get('runAsNonRoot') is True, 'runAsNonRoot')
    check(csc.get('readOnlyRootFilesystem') is True, 'readOnlyRootFilesystem')
    check(csc.get('allowPrivilegeEscalation') is False, 'allowPrivilegeEscalation false')

    check(svc['spec'].get('type', 'ClusterIP') == 'ClusterIP', 'Service is ClusterIP')
    sports = svc['spec'].get('ports', [])
    check(len(sports) == 1 and sports[0].get('name') == 'http' and sports[0]['port'] == 8084,
          'Service port http 8084')
    check(sports and port_of(sports[0].get('targetPort', 8084)) == 8084, 'Service targets the container port')
    labels = spec['template']['metadata']['labels']
    check(all(labels.get(k) == v for k, v in svc['spec']['selector'].items()), 'Service selects the pods')
    check(all(labels.get(k) == v for k, v in spec['selector']['matchLabels'].items()),
          'Deployment selector matches its pods')
    return pod


def dockerfile():
    with open(os.path.join(ROOT, 'deploy/Dockerfile')) as f:
        text = f.read()
    # Joins continuation lines so each instruction is one line.
    lines = [l.strip() for l in re.sub(r'\\\n', ' ', text).splitlines() if l.strip() and not l.strip().startswith('#')]
    stages = []
    for l in lines:
        if l.upper().startswith('FROM '):
            stages.append([])
        stages[-1].append(l)
    return stages


def check_dockerfile(pod):
    stages = dockerfile()
    check(len(stages) >= 2, 'a multi-stage Dockerfile')
    run = stages[-1]
    instr = lambda name: [l for l in run if l.upper().startswith(name + ' ')]
    check(any('debian:12-slim' in l or 'bookworm-slim' in l for l in instr('FROM')), 'runtime stage on debian:12-slim')
    check(any(l.split()[1] == '8084' for l in instr('EXPOSE')), 'EXPOSE 8084')
    check(any(l.split()[1] == 'SIGTERM' for l in instr('STOPSIGNAL')), 'STOPSIGNAL SIGTERM')
    check(len(instr('HEALTHCHECK')) == 1, 'a HEALTHCHECK')
    users = instr('USER')
    check(users and users[-1].split()[1] not in ('root', '0'), 'runs as a non-root USER')
    uid = pod.get('securityContext', {}).get('runAsUser')
    created = ' '.join(instr('RUN'))
    check(uid is None or re.search(rf'--uid\s+{uid}\b', created), f'the image creates uid {uid}, the pod\'s runAsUser')

    # Every shared library chatd links must come from a package the runtime stage installs.
    if CHATD and shutil.which('readelf') and shutil.which('dpkg'):
        needed = re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]',
                            subprocess.run(['readelf', '-d', CHATD], check=True, capture_output=True, text=True).stdout)
        installed = set(re.findall(r'[a-z0-9][a-z0-9.+-]+', created))
        for lib in needed:
            if lib.startswith(('libc.so', 'libm.so', 'ld-linux')):
                continue  # libc6: in every Debian image
            if lib.startswith(('libasan.so', 'libubsan.so', 'liblsan.so', 'libtsan.so')):
                continue  # a sanitizer build's runtime (deploy/dev/test checks that build), never shipped
            owner = subprocess.run(['dpkg', '-S', f'*/{lib}'], capture_output=True, text=True).stdout
            pkgs = {l.split(':')[0] for l in owner.splitlines() if '-dev' not in l.split(':')[0]}
            check(pkgs & installed, f'runtime stage installs the package of {lib} ({", ".join(sorted(pkgs))})')
        print(f'{len(needed)} shared libraries of {CHATD} checked against the runtime stage')

    # dockerfile-utils (npm, tests/package.json): instruction syntax, ports, signals,
    # duplicate HEALTHCHECK/CMD per stage.
    lint = os.path.join(ROOT, 'tests/node_modules/.bin/dockerfile-utils')
    if check(os.path.exists(lint), 'dockerfile-utils installed (deploy/dev/install-deps.sh)'):
        r = subprocess.run([lint, 'lint', os.path.join(ROOT, 'deploy/Dockerfile')], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stdout.strip(), f'dockerfile-utils lint is clean:\n{r.stdout}{r.stderr}')
        print('deploy/Dockerfile linted with dockerfile-utils')


# A PromQL selector of one of chatd's series (chatd_*, process_*, up) and its matchers.
SERIES = re.compile(r'(?<![\w:])((?:chatd|process)_[A-Za-z0-9_:]*|up)(?![\w:])\s*(\{[^}]*\})?')


def blank_strings(expr):
    """The expression with every string literal's content replaced by as many x's."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: '"' + 'x' * (len(m.group(0)) - 2) + '"', expr)


def check_dashboard(text, where):
    import json
    try:
        dash = json.loads(text)
    except ValueError as e:
        check(False, f'{where} is JSON: {e}')
        return
    check(dash.get('schemaVersion', 0) >= 36, f'{where}: schemaVersion >= 36 (Grafana 9+)')
    check(dash.get('uid'), f'{where}: a fixed uid (links to it survive a re-import)')
    variables = {v['name']: v for v in dash.get('templating', {}).get('list', [])}
    ds = variables.get('datasource', {})
    check(ds.get('type') == 'datasource' and ds.get('query') == 'prometheus',
          f'{where}: a datasource variable of Prometheus data sources')
    for name in ('job', 'instance'):
        v = variables.get(name, {})
        check(v.get('type') == 'query' and 'chatd_build_info' in json.dumps(v.get('query')),
              f'{where}: variable {name} from chatd_build_info')
    check(variables.get('instance', {}).get('includeAll') is True, f'{where}: the pod variable has All')
    ids, panels = set(), 0
    want = ('job=~"$job"', 'instance=~"$instance"')
    for p in dash.get('panels', []):
        title = f'{where}: panel {p.get("title")!r}'
        check(p.get('id') not in ids, f'{title}: a unique id')
        ids.add(p.get('id'))
        g = p.get('gridPos', {})
        check(g.get('x', 0) + g.get('w', 0) <= 24 and g.get('h', 0) > 0, f'{title}: within the 24-column grid')
        if p.get('type') == 'row':
            check(not p.get('panels'), f'{title}: rows are expanded (their panels follow them)')
            continue
        panels += 1
        check(p.get('datasource', {}).get('uid') == '${datasource}', f'{title}: on the ${{datasource}} variable')
        targets = p.get('targets', [])
        check(targets and all(t.get('expr', '').strip() for t in targets), f'{title}: has a query')
        for t in targets:
            expr = t.get('expr', '')
            check(t.get('datasource', {}).get('uid') == '${datasource}', f'{title}: target {t.get("refId")} on ${{datasource}}')
            blanked = blank_strings(expr)
            found = 0
            for m in SERIES.finditer(blanked):
                found += 1
                matchers = expr[m.start(2):m.end(2)] if m.group(2) else ''
                check(all(w in matchers for w in want),
                      f'{title}: {m.group(1)} filtered by job and pod ({expr})')
            check(found, f'{title}: {expr} selects a chatd series')
    check(panels >= 20, f'{where}: {panels} panels')
    print(f'{where}: {panels} panels checked')


def check_monitoring(app_docs):
    docs = render('deploy/k3s/monitoring')
    cms = [d for d in docs if d['kind'] == 'ConfigMap' and d['metadata'].get('labels', {}).get('grafana_dashboard') == '1']
    if check(len(cms) == 1, f'one ConfigMap labelled grafana_dashboard: "1" (found {len(cms)})'):
        cm = cms[0]
        check(cm['metadata']['name'] == 'chat-service-dashboard', 'the dashboard ConfigMap keeps its name (no hash)')
        data = cm.get('data', {})
        check(list(data) == ['chatd.json'], f'the ConfigMap holds chatd.json (holds {list(data)})')
        with open(os.path.join(ROOT, 'deploy/k3s/monitoring/dashboard.json')) as f:
            source = f.read()
        check(data.get('chatd.json') == source, 'the ConfigMap holds dashboard.json as it is')
        # kubectl apply keeps the whole object in an annotation limited to 256 KiB.
        check(len(source.encode()) < 256 * 1024 - 4096, f'dashboard.json ({len(source)} bytes) fits kubectl apply')
        check_dashboard(data.get('chatd.json', ''), 'dashboard.json')

    svc = [d for d in app_docs if d['kind'] == 'Service' and d['metadata']['name'] == 'chat-service']
    mons = [d for d in docs if d['kind'] == 'ServiceMonitor']
    if check(len(mons) == 1 and len(svc) == 1, 'one ServiceMonitor for the Service chat-service'):
        mon, svc = mons[0], svc[0]
        selector = mon['spec'].get('selector', {}).get('matchLabels', {})
        labels = svc['metadata'].get('labels', {})
        check(selector and all(labels.get(k) == v for k, v in selector.items()),
              f'the ServiceMonitor selects the Service by its labels ({selector})')
        ports = {p.get('name') for p in svc['spec']['ports']}
        for e in mon['spec'].get('endpoints', []):
            check(e.get('port') in ports, f'ServiceMonitor endpoint port {e.get("port")} is a named port of the Service')
            check(e.get('path') == '/actuator/prometheus', 'ServiceMonitor path /actuator/prometheus')
        check(mon['spec'].get('endpoints'), 'the ServiceMonitor has an endpoint')

    rules_file = os.path.join(ROOT, 'deploy/k3s/monitoring/rules.yml')
    for rule in (d for d in docs if d['kind'] == 'PrometheusRule'):
        if os.path.exists(rules_file):
            with open(rules_file) as f:
                groups = yaml.safe_load(f).get('groups')
            check(rule['spec'].get('groups') == groups,
                  f'PrometheusRule {rule["metadata"]["name"]} has the groups of rules.yml')


def main():
    docs = render()
    pod = check_manifests(docs)
    if pod:
        check_dockerfile(pod)
    check_monitoring(docs)
    for f in failures:
        print('FAIL:', f)
    print(f'{len(failures)} failed' if failures else 'k3s manifests, monitoring and Dockerfile: all checks passed')
    sys.exit(1 if failures else 0)


main()
