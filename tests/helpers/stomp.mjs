// STOMP test clients: the real @stomp/stompjs over `ws`, with helpers to wait for
// messages, and a raw WebSocket client for byte-level cases.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

export { WebSocket };

// Connects @stomp/stompjs; resolves with { client, received(dest), waitFor(dest, pred) }.
export function connectStomp(url, { heartbeatIncoming = 0, heartbeatOutgoing = 0, connectHeaders = {} } = {}) {
  return new Promise((resolve, reject) => {
    const inbox = new Map();
    const waiters = [];
    const client = new Client({
      brokerURL: url,
      webSocketFactory: () => new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      reconnectDelay: 0,
      heartbeatIncoming,
      heartbeatOutgoing,
      connectHeaders,
    });
    const api = {
      client,
      closed: null,
      subscribe(dest, headers = {}) {
        inbox.set(dest, inbox.get(dest) ?? []);
        return client.subscribe(dest, (m) => {
          inbox.get(dest).push(m);
          for (const w of [...waiters]) w();
        }, headers);
      },
      received: (dest) => inbox.get(dest) ?? [],
      // Waits until pred(messages of dest) is true.
      waitFor(dest, pred, timeoutMs = 5000) {
        return new Promise((res, rej) => {
          const check = () => {
            const msgs = inbox.get(dest) ?? [];
            if (pred(msgs)) {
              waiters.splice(waiters.indexOf(check), 1);
              clearTimeout(timer);
              res(msgs);
              return true;
            }
            return false;
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(check), 1);
            rej(new Error(`timeout waiting on ${dest}: got ${JSON.stringify((inbox.get(dest) ?? []).map((m) => m.body))}`));
          }, timeoutMs);
          waiters.push(check);
          check();
        });
      },
      send(dest, body, headers = {}) {
        client.publish({ destination: dest, body: typeof body === 'string' ? body : JSON.stringify(body), headers });
      },
      // Sends with a receipt header and resolves when the RECEIPT arrives.
      sendWithReceipt(dest, body, timeoutMs = 5000) {
        const id = `r-${Math.random().toString(36).slice(2)}`;
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no RECEIPT ${id}`)), timeoutMs);
          client.watchForReceipt(id, () => { clearTimeout(timer); res(id); });
          api.send(dest, body, { receipt: id });
        });
      },
      async close() { await client.deactivate(); },
    };
    client.onConnect = () => resolve(api);
    client.onStompError = (f) => reject(new Error(`STOMP ERROR ${f.headers.message}`));
    client.onWebSocketClose = (e) => { api.closed = e; };
    client.onWebSocketError = (e) => reject(e);
    client.activate();
  });
}

// A raw WebSocket speaking hand-written STOMP frames.
export function rawStomp(url, protocols = ['v12.stomp']) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const frames = [];
    const waiters = [];
    let closed = null;
    ws.on('message', (d) => {
      frames.push(d.toString());
      for (const w of [...waiters]) w();
    });
    ws.on('close', (code, reason) => {
      closed = { code, reason: reason.toString() };
      for (const w of [...waiters]) w();
    });
    ws.on('error', reject);
    ws.on('open', () => resolve({
      ws, frames,
      get closed() { return closed; },
      send: (s) => ws.send(s),
      waitFor(pred, timeoutMs = 5000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (pred(frames, closed)) {
              waiters.splice(waiters.indexOf(check), 1);
              clearTimeout(timer);
              res(frames);
            }
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(check), 1);
            rej(new Error(`timeout; frames: ${JSON.stringify(frames)} closed: ${JSON.stringify(closed)}`));
          }, timeoutMs);
          waiters.push(check);
          check();
        });
      },
    }));
  });
}
