// Private dependencies for tests that own every key and row they look at, or that pause a
// server (SIGSTOP) without touching the shared ones other suites use: a throwaway database
// on the shared cluster, a private redis-server, a private PostgreSQL cluster.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO, freePort, sleep } from './chatd.mjs';

// A throwaway database on the shared private PostgreSQL (trust on loopback), owned by `chat`.
export function freshDatabase(name) {
  const m = /\/\/([^:/]+):(\d+)\//.exec(process.env.SPRING_DATASOURCE_URL ?? '');
  if (!m) throw new Error('SPRING_DATASOURCE_URL is not set: source .dev/env');
  const [, host, port] = m;
  const psql = (db, query) => execFileSync('psql', ['-X', '-qAt', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
    '-h', host, '-p', port, '-U', 'postgres', '-d', db, '-c', query], { encoding: 'utf8' });
  psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psql('postgres', `CREATE DATABASE ${name} OWNER ${process.env.SPRING_DATASOURCE_USERNAME}`);
  return {
    url: `jdbc:postgresql://${host}:${port}/${name}`,
    sql: (query) => psql(name, query).split('\n').filter((l) => l !== '').map((l) => l.split('\t')),
    drop: () => psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

// A free loopback port below the kernel's ephemeral range (32768 up), for a server a test
// stops and starts again: no client's own port, nor a client reconnecting to the stopped
// port (which can connect to itself there), can take it in between.
export async function freeLowPort(from = 20000, to = 32000) {
  const tryListen = (port) => new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

// A private redis-server on a free loopback port (or `port`: the same one again after a stop).
export async function startRedis({ port } = {}) {
  port = port ?? await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: 'ignore' });
  const cli = (...args) => execFileSync('redis-cli', ['-p', String(port), ...args.map(String)],
    { encoding: 'utf8', timeout: 5000 }).trim();
  for (let i = 0; i < 100; i++) {
    try { if (cli('PING') === 'PONG') break; } catch { /* not up yet */ }
    await sleep(50);
  }
  return {
    port, cli, pid: proc.pid,
    async stop() {
      try { process.kill(proc.pid, 'SIGCONT'); } catch { /* gone */ }
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
    },
  };
}

// A private PostgreSQL cluster (initdb, a free port, trust on loopback), as
// deploy/dev/services.sh runs the shared one: PostgreSQL refuses to run as root, so its
// processes belong to the same system user.
const PG_USER = 'chatd-dev';
const PGBIN = fs.readdirSync('/usr/lib/postgresql').sort().map((v) => `/usr/lib/postgresql/${v}/bin`).pop();

export async function startPostgres(name) {
  const dir = path.join(REPO, 'tests', 'out', `pg-${name}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('chown', [PG_USER, dir]);
  const asPg = (cmd, args) => execFileSync('runuser', ['-u', PG_USER, '--', path.join(PGBIN, cmd), ...args],
    { encoding: 'utf8' });
  asPg('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  asPg('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'server.log'), '-w', '-t', '30', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const psql = (query) => execFileSync('psql', ['-X', '-qAt', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
    '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', query],
  { encoding: 'utf8', timeout: 10000 }).split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  const postmaster = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  // Every process of the cluster: the postmaster and its children.
  const processes = () => [postmaster, ...execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map(Number)];
  return {
    port, psql, postmaster, processes,
    url: `jdbc:postgresql://127.0.0.1:${port}/postgres`,
    async stop() {
      for (const pid of processes()) { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }
      asPg('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A TCP proxy on a free loopback port to 127.0.0.1:targetPort, to cut one client off from
// a server the others still reach: cut() drops its connections and refuses new ones until
// restore().
export async function startTcpProxy(targetPort) {
  const sockets = new Set();
  let cutOff = false;
  const server = net.createServer((client) => {
    if (cutOff) { client.destroy(); return; }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      sockets.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => { sockets.delete(from); to.destroy(); });
    }
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const dropAll = () => { for (const s of sockets) s.destroy(); };
  return {
    port,
    cut() { cutOff = true; dropAll(); },
    restore() { cutOff = false; },
    async stop() { dropAll(); await new Promise((resolve) => server.close(resolve)); },
  };
}
