// The life of a server a test starts (chatd, Prometheus, the Spring fixture): watching for
// its end, waiting until it serves, and stopping it.
import { setTimeout as sleep } from 'node:timers/promises';

// Watches `proc` from its spawn: `exited` is { code, signal } once it ended (a spawn
// failure may set it too), `ended` resolves then; stop(graceMs) sends SIGTERM, SIGKILL
// after graceMs, and resolves with `exited` once it is gone.
export function watchExit(proc) {
  const child = { exited: null };
  child.ended = new Promise((resolve) => proc.on('exit', (code, signal) => {
    child.exited = { code, signal };
    resolve(child.exited);
  }));
  child.stop = async (graceMs) => {
    if (child.exited) return child.exited;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await child.ended;
    clearTimeout(timer);
    return child.exited;
  };
  return child;
}

// Polls `serving()` (true once the server answers; throwing means "not listening yet")
// every `everyMs` until it is true. Fails with the server's log lines at once if it ended,
// and after `timeoutMs`, killing it.
export async function waitServing(name, proc, child, serving, { timeoutMs, everyMs, logs }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited) throw new Error(`${name} exited (${JSON.stringify(child.exited)}):\n${logs.join('\n')}`);
    try {
      if (await serving()) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} not ready within ${timeoutMs / 1000} s:\n${logs.join('\n')}`);
    }
    await sleep(everyMs);
  }
}
