// STOMP test clients: the real @stomp/stompjs over `ws`, with helpers to wait for
// messages, and a raw WebSocket client for byte-level cases.
import { createRequire } from 'node:module';
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);
const SockJS = require('sockjs-client');
const Stomp = require('stompjs');

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

// The original's web client: stompjs 2.3's Stomp.over on sockjs-client at baseUrl/ws-chat,
// with one SockJS transport; resolves with { client, sock } once CONNECTED.
export function connectSockJs(baseUrl, transport) {
  const sock = new SockJS(`${baseUrl}/ws-chat`, null, { transports: [transport] });
  const client = Stomp.over(sock);
  client.debug = () => {};
  return new Promise((resolve, reject) => {
    client.connect({}, () => resolve({ client, sock }), (e) => reject(new Error(String(e))));
  });
}

// STOMP header values escape \\, newline, carriage return and colon (STOMP 1.2).
const unescapeHeader = (v) => v.replace(/\\([\\nrc])/g, (_, c) => ({ '\\': '\\', n: '\n', r: '\r', c: ':' }[c]));

// Parses one STOMP frame (without its NUL): { command, headers, body }; a repeated header
// keeps its first value, as the specification says.
export function parseFrame(text) {
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [command, ...lines] = head.split('\n');
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const k = unescapeHeader(l.slice(0, i));
    if (!(k in headers)) headers[k] = unescapeHeader(l.slice(i + 1));
  }
  return { command, headers, body: end < 0 ? '' : text.slice(end + 2) };
}

// A raw WebSocket speaking hand-written STOMP frames, for byte-level and access cases.
// Options: protocols, and the handshake's headers, origin and localAddress (the source
// address, for trusted-proxy cases). Rejects when the upgrade is refused, with the HTTP
// status in err.status. Resolves with:
//   frames          every WebSocket message as received (heart-beats included)
//   parsed          the STOMP frames in them, parsed (parseFrame), heart-beats dropped
//   closed          null, or { code, reason } once the WebSocket closed
//   send(text)      sends text as it is; sendFrame(command, headers, body) builds the frame
//   waitFor(pred)   resolves with frames once pred(frames, closed) holds
//   waitForFrame(pred), waitForFrames(pred, n), waitForClose(), until(cond): see below
export function rawStomp(url, { protocols = ['v12.stomp'], headers, origin, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, origin, localAddress });
    const frames = [];
    const parsed = [];
    const waiters = new Set();
    let closed = null;
    const wake = () => { for (const w of [...waiters]) w(); };
    ws.on('message', (d) => {
      const text = d.toString();
      frames.push(text);
      for (const part of text.split('\0')) {
        const t = part.replace(/^[\r\n]+/, '');
        if (t) parsed.push(parseFrame(t));
      }
      wake();
    });
    ws.on('close', (code, reason) => {
      closed = { code, reason: reason.toString() };
      wake();
    });
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      reject(Object.assign(new Error(`WebSocket upgrade of ${url} refused: ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.on('error', reject);
    // Resolves with cond()'s value once it is truthy, checked on every message and the close.
    const until = (cond, timeoutMs = 5000) => new Promise((res, rej) => {
      const check = () => {
        const v = cond();
        if (v) { clearTimeout(timer); waiters.delete(check); res(v); }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        rej(new Error(`timeout; frames: ${JSON.stringify(frames)} closed: ${JSON.stringify(closed)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
    ws.on('open', () => resolve({
      ws, frames, parsed,
      get closed() { return closed; },
      send: (s) => ws.send(s),
      sendFrame(command, hdrs = {}, body = '') {
        const h = Object.entries(hdrs).map(([k, v]) => `${k}:${v}\n`).join('');
        ws.send(`${command}\n${h}\n${body}\0`);
      },
      until,
      waitFor: (pred, timeoutMs) => until(() => pred(frames, closed) && frames, timeoutMs),
      // The first parsed frame for which pred(frame) holds.
      waitForFrame: (pred, timeoutMs) => until(() => parsed.find(pred), timeoutMs),
      // The parsed frames matching pred, once there are n of them.
      waitForFrames: (pred, n, timeoutMs) =>
        until(() => { const m = parsed.filter(pred); return m.length >= n && m; }, timeoutMs),
      waitForClose: (timeoutMs) => until(() => closed, timeoutMs),
      close() { if (!closed) ws.close(); },
    }));
  });
}
