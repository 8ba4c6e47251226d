// A real Prometheus (Debian's `prometheus` package; deploy/dev/install-deps.sh installs it)
// for the tests: a temporary configuration scraping the given targets, rule files loaded,
// its HTTP API; and the metric names a PromQL expression reads.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, freePort } from './chatd.mjs';
import { watchExit, waitServing } from './process.mjs';

// Starts Prometheus on a free loopback port, scraping `targets` (host:port) at
// /actuator/prometheus as job `job` every `intervalSeconds`, with the rule files (copied
// into its folder, so it reads what was passed even if the originals change) evaluated as
// often. Resolves once /-/ready answers.
//   query(expr)   the instant vector's result (throws on an API error, with the expression)
//   alerts()      /api/v1/alerts' active (pending and firing) alerts
//   rules()       every rule of /api/v1/rules, flattened, with its group's name
//   targets()     /api/v1/targets' active targets
export async function startPrometheus({ targets, rules = [], job = 'chat-service', intervalSeconds = 1 }) {
  const dir = path.join(REPO, 'tests', 'out', `prometheus-${process.pid}-${Date.now()}`);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const ruleFiles = rules.map(({ name, text }) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  });
  // JSON is YAML: no YAML writer needed.
  const config = {
    global: { scrape_interval: `${intervalSeconds}s`, scrape_timeout: `${intervalSeconds}s`,
      evaluation_interval: `${intervalSeconds}s` },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: job, metrics_path: '/actuator/prometheus', static_configs: [{ targets }] }],
  };
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const log = [];
  const proc = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => log.push(...chunk.split('\n').filter(Boolean)));
  const child = watchExit(proc);
  proc.on('error', (e) => {
    child.exited = { error: e.code === 'ENOENT' ? 'no prometheus binary: run deploy/dev/install-deps.sh' : e.message };
  });
  const url = `http://127.0.0.1:${port}`;
  await waitServing('prometheus', proc, child, async () => (await fetch(`${url}/-/ready`)).status === 200,
    { timeoutMs: 20000, everyMs: 100, logs: log });
  const get = async (apiPath, params = {}) => {
    const res = await fetch(`${url}${apiPath}?${new URLSearchParams(params)}`);
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`${apiPath} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    url, port, log, dir,
    query: async (expr) => (await get('/api/v1/query', { query: expr })).result,
    alerts: async () => (await get('/api/v1/alerts')).alerts,
    rules: async () => (await get('/api/v1/rules')).groups.flatMap((g) => g.rules.map((r) => ({ ...r, group: g.name }))),
    targets: async () => (await get('/api/v1/targets')).activeTargets,
    async stop() {
      await child.stop(10000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// PromQL words that are neither functions (followed by "(") nor metric names.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or',
  'unless', 'offset', 'inf', 'nan', 'start', 'end']);

// The metric names a PromQL expression (or a Grafana panel's, with its $variables) reads:
// string literals, Grafana variables, label matchers ({...}), ranges and subqueries ([...])
// and label lists (by/without/on/ignoring/group_left/group_right (...)) are removed; of what
// is left, an identifier is a metric name unless a "(" follows it (a function or an
// aggregation) or it is a keyword. Numbers and durations (0.99, 1e3, 5m) never start an
// identifier: a letter right after a digit or a dot is part of the number.
export function metricNames(expr) {
  const stripped = expr
    .replace(/#[^\n]*/g, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' "" ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' {} ')
    .replace(/\[[^\]]*\]/g, ' [] ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set();
  for (const m of stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}
