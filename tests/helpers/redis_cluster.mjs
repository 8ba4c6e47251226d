// A private Redis Cluster for the Node suites: deploy/dev/redis-cluster.sh's six
// redis-server processes (three masters, three replicas, node timeout 2 s) under a
// temporary folder, and what the tests ask of it with redis-cli: the slot of a key, who
// owns a slot, shard channel subscribers, a master killed, a slot moved to another master.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, sleep } from './chatd.mjs';

const SCRIPT = path.join(REPO, 'deploy', 'dev', 'redis-cluster.sh');

async function waitFor(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what()}`);
    await sleep(100);
  }
}

// redis-cli against one node, bounded; { ok, out, err } (out trimmed, raw output).
function cliResult(port, args, timeoutMs = 5000) {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)],
    { encoding: 'utf8', timeout: timeoutMs });
  const out = (r.stdout ?? '').trim();
  const failed = r.status !== 0 || r.error || /^(ERR|MOVED|ASK|CLUSTERDOWN|Could not connect)/.test(out);
  return { ok: !failed, out, err: (r.stderr ?? '').trim() || (r.error ? String(r.error) : '') };
}

// Parses CLUSTER NODES: [{ id, port, flags, masterId, slots: [[from, to]...], migrating }].
export function parseClusterNodes(text) {
  return text.split('\n').filter(Boolean).map((line) => {
    const [id, addr, flags, masterId, , , , linkState, ...slotFields] = line.trim().split(' ');
    const port = Number(/:(\d+)@/.exec(addr)?.[1]);
    const slots = [];
    for (const s of slotFields) {
      if (s.startsWith('[')) continue; // [slot->-id] / [slot-<-id]: migration markers
      const [a, b] = s.split('-').map(Number);
      slots.push([a, b ?? a]);
    }
    return { id, port, flags: new Set(flags.split(',')), masterId: masterId === '-' ? null : masterId, linkState, slots };
  });
}

// Starts the cluster in a new temporary folder from base port `base`; resolves with its handle.
export async function startRedisCluster(base = 21400) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-redis-cluster-chat.'));
  const r = spawnSync(SCRIPT, ['start', dir, String(base)], { encoding: 'utf8', timeout: 90000 });
  if (r.status !== 0) {
    spawnSync(SCRIPT, ['stop', dir], { timeout: 30000 });
    throw new Error(`redis-cluster.sh start failed (${r.status} ${r.signal ?? ''}): ${r.stdout}\n${r.stderr}`);
  }
  const ports = fs.readdirSync(dir).filter((d) => /^\d+$/.test(d)).map(Number).sort((x, y) => x - y);
  if (ports.length !== 6) throw new Error(`expected six nodes under ${dir}, found ${ports}`);
  const killed = new Set();

  const cluster = {
    dir,
    ports,
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    killed,
    // redis-cli on a node; throws on an error reply unless { allowError: true }.
    cli(port, ...args) {
      const r2 = cliResult(port, args);
      if (!r2.ok) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r2.out} ${r2.err}`);
      return r2.out;
    },
    tryCli: (port, ...args) => cliResult(port, args),
    livePorts: () => ports.filter((p) => !killed.has(p)),
    // Some live node's view of the cluster.
    nodes() {
      for (const p of cluster.livePorts()) {
        const r2 = cliResult(p, ['CLUSTER', 'NODES']);
        if (r2.ok) return parseClusterNodes(r2.out);
      }
      throw new Error('no node of the cluster answers CLUSTER NODES');
    },
    keySlot: (key) => Number(cluster.cli(cluster.livePorts()[0], 'CLUSTER', 'KEYSLOT', key)),
    // The master serving `slot` as node `viaPort` (default: some live node) sees it.
    ownerOf(slot, viaPort) {
      const nodes = viaPort ? parseClusterNodes(cluster.cli(viaPort, 'CLUSTER', 'NODES')) : cluster.nodes();
      return nodes.find((n) => n.flags.has('master') && !n.flags.has('fail')
        && n.slots.some(([a, b]) => slot >= a && slot <= b));
    },
    masters: () => cluster.nodes().filter((n) => n.flags.has('master') && !n.flags.has('fail') && n.slots.length > 0),
    clusterState: (port) => /cluster_state:(\w+)/.exec(cliResult(port, ['CLUSTER', 'INFO']).out)?.[1],
    // Subscribers of a shard channel on each live node: { port: n }.
    shardNumSubByNode(channel) {
      const out = {};
      for (const p of cluster.livePorts()) {
        const r2 = cliResult(p, ['PUBSUB', 'SHARDNUMSUB', channel]);
        if (r2.ok) out[p] = Number(r2.out.split('\n')[1] ?? 0);
      }
      return out;
    },
    // Subscribers of a shard channel, summed over every live node (masters and replicas).
    shardNumSub: (channel) => Object.values(cluster.shardNumSubByNode(channel)).reduce((x, y) => x + y, 0),
    // The ports of a master and its replicas.
    shardPorts(masterPort) {
      const nodes = cluster.nodes();
      const m = nodes.find((n) => n.port === masterPort);
      return [masterPort, ...nodes.filter((n) => m && n.masterId === m.id).map((n) => n.port)];
    },
    // The shard channels subscribed on each live node: { port: [channel...] }.
    shardChannels(pattern = '*') {
      const out = {};
      for (const p of cluster.livePorts()) {
        const r2 = cliResult(p, ['PUBSUB', 'SHARDCHANNELS', pattern]);
        out[p] = r2.ok ? r2.out.split('\n').filter(Boolean) : [`(${r2.out} ${r2.err})`];
      }
      return out;
    },
    pidOf(port) {
      return Number(fs.readFileSync(path.join(dir, String(port), 'redis.pid'), 'utf8').trim());
    },
    // SIGKILL to the node on `port`; its pidfile is removed so that stop() cannot signal a
    // process that reuses the pid.
    kill(port) {
      const pid = cluster.pidOf(port);
      process.kill(pid, 'SIGKILL');
      fs.rmSync(path.join(dir, String(port), 'redis.pid'), { force: true });
      killed.add(port);
      return pid;
    },
    // Starts a killed node again as redis-cluster.sh started it (its nodes.conf is kept: it
    // comes back as what the cluster last knew of it; its data is gone).
    restart(port) {
      const d = path.join(dir, String(port));
      const r2 = spawnSync('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes',
        '--dir', d, '--pidfile', path.join(d, 'redis.pid'), '--logfile', path.join(d, 'redis.log'), '--save', '',
        '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(d, 'nodes.conf'),
        '--cluster-node-timeout', '2000'], { encoding: 'utf8', timeout: 10000 });
      if (r2.status !== 0) throw new Error(`redis-server on ${port} did not start: ${r2.stdout} ${r2.stderr}`);
      killed.delete(port);
    },
    // Waits until every live node reports cluster_state ok.
    async waitForOk(timeoutMs) {
      let states;
      await waitFor(() => (states = cluster.livePorts().map((p) => cluster.clusterState(p))).every((x) => x === 'ok'),
        timeoutMs, () => `cluster_state of the live nodes: ${states}`);
    },
    // Waits until every live node sees `slot` served by a live master other than `notPort`
    // and reports cluster_state ok; resolves with that master.
    async waitForNewOwner(slot, notPort, timeoutMs) {
      const end = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        try {
          const views = cluster.livePorts().map((p) => cluster.ownerOf(slot, p));
          const states = cluster.livePorts().map((p) => cluster.clusterState(p));
          const owner = views[0];
          if (owner && owner.port !== notPort && !killed.has(owner.port)
            && views.every((v) => v && v.id === owner.id) && states.every((s) => s === 'ok')) return owner;
          last = `owners seen ${views.map((v) => v?.port)}, states ${states}`;
        } catch (e) { last = String(e); }
        if (Date.now() > end) throw new Error(`slot ${slot}: no new master within ${timeoutMs} ms (${last})`);
        await sleep(100);
      }
    },
    // Moves `slot` from master `from` to master `to` ({ id, port } each) as redis-cli
    // --cluster reshard does: IMPORTING on the target, MIGRATING on the source, every key
    // of the slot MIGRATEd, then SETSLOT NODE on the target, the source and every other
    // master. `midway` (async) runs while the slot is migrating, its keys moved.
    async moveSlot(slot, from, to, midway = async () => {}) {
      cluster.cli(to.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
      cluster.cli(from.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
      let moved = 0;
      for (;;) {
        const keys = cluster.cli(from.port, 'CLUSTER', 'GETKEYSINSLOT', slot, 100).split('\n').filter(Boolean);
        if (keys.length === 0) break;
        cluster.cli(from.port, 'MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
        moved += keys.length;
      }
      await midway();
      cluster.cli(to.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      cluster.cli(from.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      for (const m of cluster.masters()) {
        if (m.id !== to.id && m.id !== from.id) cluster.cli(m.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      }
      return moved;
    },
    stop() {
      spawnSync(SCRIPT, ['stop', dir], { timeout: 30000 });
    },
  };
  return cluster;
}
