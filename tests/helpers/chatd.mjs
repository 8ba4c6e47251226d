// Test helpers: start a real chatd against the private PostgreSQL and Redis, read its
// JSON log lines, run SQL and Redis commands for assertions.
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { watchExit, waitServing } from './process.mjs';

export const REPO = process.env.CHAT_REPO ?? path.resolve(new URL('../..', import.meta.url).pathname);
const BIN = process.env.CHATD_BIN ?? path.join(REPO, 'build', 'chatd');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts chatd; resolves once readiness answers 200.
export async function startChatd({ env = {}, luaDir, port } = {}) {
  port = port ?? (await freePort());
  const logs = [];
  const proc = spawn(BIN, [], {
    env: {
      ...process.env,
      SERVER_PORT: String(port),
      CHAT_BIND_ADDRESS: '127.0.0.1',
      CHAT_LUA_DIR: luaDir ?? path.join(REPO, 'lua'),
      CHAT_MIGRATIONS_DIR: path.join(REPO, 'migrations'),
      // Only the Kafka suite talks to the broker; the others must not depend on it.
      CHAT_KAFKA_ENABLED: '0',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
    let nl;
    while ((nl = stderr.indexOf('\n')) >= 0) {
      const line = stderr.slice(0, nl);
      stderr = stderr.slice(nl + 1);
      logs.push(line);
    }
  });
  const child = watchExit(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitServing('chatd', proc, child, async () => (await fetch(`${url}/actuator/health/readiness`)).status === 200,
    { timeoutMs: 30000, everyMs: 100, logs });
  const sanitizerReport = () => logs.filter((l) => /ERROR: (Address|Leak)Sanitizer|runtime error:/.test(l));
  return {
    url, port, proc, logs,
    wsUrl: `ws://127.0.0.1:${port}/ws-chat`, // STOMP over a raw WebSocket
    signal: (sig) => proc.kill(sig),
    async waitForLog(re, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find((l) => re.test(l));
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`no log line matching ${re}:\n${logs.slice(-20).join('\n')}`);
        await sleep(50);
      }
    },
    // SIGTERM, then checks the exit was clean and no sanitizer complained.
    async stop() {
      const exited = await child.stop(15000);
      const report = sanitizerReport();
      if (report.length) throw new Error(`sanitizer report:\n${logs.join('\n')}`);
      return exited;
    },
  };
}

// A copy of the scripts with one more route module, chat/routes/<name>.lua holding `source`
// (a table of routes, as the others return), registered first: probes of the Lua API that
// the application itself does not expose. Returns the folder, for startChatd({ luaDir }).
export function scriptsWithRoutes(name, source) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-lua-'));
  fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'chat', 'routes', `${name}.lua`), source);
  const init = path.join(dir, 'chat', 'init.lua');
  const src = fs.readFileSync(init, 'utf8');
  const patched = src.replace('local ROUTE_MODULES = { ', `local ROUTE_MODULES = { "chat.routes.${name}", `);
  if (patched === src) throw new Error('chat/init.lua has no ROUTE_MODULES list to add a probe to');
  fs.writeFileSync(init, patched);
  return dir;
}

export function pgEnv() {
  const m = /\/\/([^:/]+):(\d+)\/(\w+)/.exec(process.env.SPRING_DATASOURCE_URL ?? '');
  if (!m) throw new Error('SPRING_DATASOURCE_URL is not set: source .dev/env');
  return { ...process.env, PGHOST: m[1], PGPORT: m[2], PGDATABASE: m[3],
    PGUSER: process.env.SPRING_DATASOURCE_USERNAME, PGPASSWORD: process.env.SPRING_DATASOURCE_PASSWORD };
}

// Runs SQL with psql; returns rows as arrays of strings.
export function sql(query) {
  const out = execFileSync('psql', ['-X', '-qAt', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', query],
    { env: pgEnv(), encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

export function redis(...args) {
  return execFileSync('redis-cli', ['-h', process.env.SPRING_DATA_REDIS_HOST, '-p',
    process.env.SPRING_DATA_REDIS_PORT, ...args.map(String)], { encoding: 'utf8' }).trim();
}

let counter = 0;
export function uniqueStudyId() {
  return Date.now() * 1000 + (counter++ % 1000);
}

export async function api(base, method, pathAndQuery, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + pathAndQuery, init);
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, text, json, headers: res.headers };
}

export { sleep };

// A room of a new study with these [userId, nickname] members, through the internal
// endpoint (which creates the room with its first member); the room's ChatRoomResponse.
export async function roomWithMembers(base, ...members) {
  const studyId = uniqueStudyId();
  let room;
  for (const [userId, nickname] of members) {
    const res = await api(base, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'e2e', userId, nickname });
    if (res.status !== 200) throw new Error(`adding member ${userId}: ${res.status} ${res.text}`);
    room = res.json;
  }
  return room;
}
