// HTTP/1.1 conformance cases for chatd's request parser, run against the real server by
// http_conformance.test.mjs. Each case is sent on a fresh TCP connection.
//
//   name    what the case is
//   rfc     where the expected answer comes from: an RFC section, or the literature for
//           the request-smuggling shapes (Linhart et al. 2005 "HTTP Request Smuggling";
//           Kettle 2019 "HTTP Desync Attacks"; Kettle 2022 "Browser-Powered Desync
//           Attacks"), or "app" where the status is the application's (a route's answer)
//           and RFC 9112 only requires the request to be accepted
//   bytes   the raw request: a string (sent as latin1 bytes) or a Buffer; an array of them
//           is written in separate writes, a moment apart (split reads)
//   expect  a status; an array of statuses for pipelined requests answered in order; or
//           'close' when the server must close without answering
//   end     half-close after writing (the client's FIN), for incomplete requests
//   open    the connection must still be open after the answer (keep-alive)
//   closed  the connection must be closed after the answer (also checked after any 4xx/5xx)
//   body    a RegExp the first answer's body must match
//
// Expected statuses are RFC 9112's (and RFC 9110's), not whatever the server answers: 400
// for a malformed message, 505 for a well-formed version other than 1.x, 431 for a header
// section over CHAT_HTTP_MAX_HEADER_BYTES, 414 for a request line over it (RFC 9112 §3), 413 for a body over CHAT_HTTP_MAX_BODY_BYTES,
// 501 for a method the server does not implement (RFC 9110 §9.1, §15.6.2). Where RFC 9112
// lets a server choose, chatd takes the strict choice documented in core/http.c (bare LF
// refused, Transfer-Encoding other than exactly "chunked" refused with 400, repeated
// identical Content-Length refused); those cases name the section that allows the choice.

const LIVE = '/actuator/health/liveness';
const H = 'Host: x\r\n';

// The limits the suite starts chatd with.
export const LIMITS = { headerBytes: 16384, bodyBytes: 65536 };

const get = (fields = H, target = LIVE, version = 'HTTP/1.1') => `GET ${target} ${version}\r\n${fields}\r\n`;
const post = (fields, body = '') => `POST ${LIVE} HTTP/1.1\r\n${H}${fields}\r\n${body}`;
const chunked = (body) => post('Transfer-Encoding: chunked\r\n', body);

// A chunked body of the given pieces, sizes computed (never counted by hand): `size`
// writes a size (hex by default), `ext` follows each size, `last` is the last chunk's line.
function chunks(pieces, { ext = '', trailer = '', size = (n) => n.toString(16), last = '0' } = {}) {
  let out = '';
  for (const p of pieces) out += `${size(Buffer.byteLength(p, 'latin1'))}${ext}\r\n${p}\r\n`;
  return `${out}${last}\r\n${trailer}\r\n`;
}

// The room REST endpoint the cases with a valid body go to (CONTRACT §3, endpoint 9, the
// internal idempotent add): 200 with the room, so the de-chunked body reached the handler.
const STUDY = Date.now();
const memberJson = (n) => JSON.stringify({ studyId: STUDY + n, roomName: 'http-conformance', userId: 7, nickname: 'n' });
const restPost = (fields, body) => `POST /api/chat/internal/rooms/member HTTP/1.1\r\n${H}Content-Type: application/json\r\n${fields}\r\n${body}`;
const restChunked = (n, options, te = 'chunked') => {
  const json = memberJson(n);
  return restPost(`Transfer-Encoding: ${te}\r\n`, chunks([json.slice(0, 26), json.slice(26)], options));
};
const ROOM = /"name":"http-conformance"/;

// The bytes cut at the given offsets, for separate writes.
const splitAt = (text, offsets) => [0, ...offsets].map((o, i, all) => text.slice(o, all[i + 1]));

// A TLS 1.2/1.3 ClientHello record as a browser starts it (record header, handshake header,
// version, 32 random bytes, session id, cipher suites, compression, an SNI extension).
const CLIENT_HELLO = Buffer.concat([
  Buffer.from('160301006a010000660303', 'hex'),
  Buffer.alloc(32, 0x5a),
  Buffer.from('00' + '0004130113020100' + '0039' + '0000000e000c0000096c6f63616c686f7374' +
    '000d0012001004030503060308040805080604010501060100330000002b0003020304', 'hex'),
]);

export const cases = [
  // ---- valid requests that must still be served ----
  { name: 'GET liveness, HTTP/1.1', rfc: 'RFC 9112 §3', bytes: get(), expect: 200, open: true },
  { name: 'GET liveness, HTTP/1.0 closes', rfc: 'RFC 9112 §9.3', bytes: get('', LIVE, 'HTTP/1.0'), expect: 200, closed: true },
  { name: 'HTTP/1.0 with keep-alive persists', rfc: 'RFC 9112 §9.3, appendix C.2.2', bytes: get('Connection: keep-alive\r\n', LIVE, 'HTTP/1.0'), expect: 200, open: true },
  { name: 'HTTP/1.1 Connection: close closes', rfc: 'RFC 9112 §9.6', bytes: get(`${H}Connection: close\r\n`), expect: 200, closed: true },
  { name: 'HTTP/1.1 Connection: CLOSE (case-insensitive)', rfc: 'RFC 9110 §7.6.1', bytes: get(`${H}Connection: CLOSE\r\n`), expect: 200, closed: true },
  { name: 'HEAD liveness', rfc: 'RFC 9110 §9.3.2', bytes: `HEAD ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 200 },
  { name: 'absolute-form target', rfc: 'RFC 9112 §3.2.2', bytes: get(H, `http://x${LIVE}`), expect: 200 },
  { name: 'absolute-form with port and query', rfc: 'RFC 9112 §3.2.2', bytes: get(H, `http://localhost:8084${LIVE}?a=1`), expect: 200 },
  { name: 'absolute-form, scheme and host case-insensitive', rfc: 'RFC 9110 §4.2.3', bytes: get(H, `HTTP://X${LIVE}`), expect: 200 },
  { name: 'absolute-form https scheme', rfc: 'RFC 9112 §3.2.2', bytes: get(H, `https://x${LIVE}`), expect: 200 },
  { name: 'absolute-form ignores a different Host', rfc: 'RFC 9112 §3.2.2', bytes: get('Host: other.example\r\n', `http://x${LIVE}`), expect: 200 },
  { name: 'one empty line before the request line', rfc: 'RFC 9112 §2.2', bytes: `\r\n${get()}`, expect: 200 },
  { name: 'several empty lines before the request line', rfc: 'RFC 9112 §2.2', bytes: `\r\n\r\n\r\n${get()}`, expect: 200 },
  { name: 'pipelining: two GETs answered in order', rfc: 'RFC 9112 §9.3.2', bytes: get() + get(), expect: [200, 200], open: true },
  { name: 'pipelining: found, not found, found', rfc: 'RFC 9112 §9.3.2; 404 app', bytes: get() + get(H, '/nope') + get(`${H}Connection: close\r\n`), expect: [200, 404, 200], closed: true },
  { name: 'pipelining after a chunked body', rfc: 'RFC 9112 §9.3.2, §7.1', bytes: restChunked(1) + get(), expect: [200, 200] },
  { name: 'pipelining after a Content-Length body', rfc: 'RFC 9112 §9.3.2, §6.2', bytes: restPost(`Content-Length: ${memberJson(2).length}\r\n`, memberJson(2)) + get(), expect: [200, 200] },
  { name: 'POST chunked JSON to a REST endpoint', rfc: 'RFC 9112 §7.1; 200 app', bytes: restChunked(3), expect: 200, body: ROOM },
  { name: 'POST JSON with Content-Length to a REST endpoint', rfc: 'RFC 9112 §6.2; 200 app', bytes: restPost(`Content-Length: ${memberJson(4).length}\r\n`, memberJson(4)), expect: 200, body: ROOM },
  { name: 'POST chunked JSON in 1-byte chunks', rfc: 'RFC 9112 §7.1', bytes: restPost('Transfer-Encoding: chunked\r\n', chunks([...memberJson(5)])), expect: 200, body: ROOM },
  { name: 'chunked: extensions and a trailer', rfc: 'RFC 9112 §7.1.1, §7.1.2', bytes: restChunked(6, { ext: ';a=b;q="x y"', trailer: 'X-Checksum: 1\r\n' }), expect: 200, body: ROOM },
  { name: 'chunked: upper-case hex size', rfc: 'RFC 9112 §7.1', bytes: restChunked(7, { size: (n) => n.toString(16).toUpperCase() }), expect: 200, body: ROOM },
  { name: 'chunked: leading zeros in the sizes', rfc: 'RFC 9112 §7.1', bytes: restChunked(8, { size: (n) => `000${n.toString(16)}`, last: '000' }), expect: 200, body: ROOM },
  { name: 'chunked: extension with BWS around ; and =', rfc: 'RFC 9112 §7.1.1', bytes: restChunked(9, { ext: ' ; a = b' }), expect: 200, body: ROOM },
  { name: 'chunked: extension quoted-string with quoted-pair', rfc: 'RFC 9112 §7.1.1, RFC 9110 §5.6.4', bytes: restChunked(10, { ext: ';a="x\\"y \xe9"' }), expect: 200, body: ROOM },
  { name: 'chunked: extensions without values', rfc: 'RFC 9112 §7.1.1', bytes: restChunked(11, { ext: ';flag', last: '0;last' }), expect: 200, body: ROOM },
  { name: 'chunked: trailer fields', rfc: 'RFC 9112 §7.1.2', bytes: restChunked(12, { trailer: 'X-A: 1\r\nX-B:\r\n' }), expect: 200, body: ROOM },
  { name: 'Transfer-Encoding: Chunked (case-insensitive)', rfc: 'RFC 9112 §7', bytes: restChunked(13, {}, 'Chunked'), expect: 200, body: ROOM },
  { name: 'Transfer-Encoding:<HTAB>chunked (HTAB is OWS)', rfc: 'RFC 9112 §5.1, RFC 9110 §5.6.3', bytes: restChunked(14, {}, '\tchunked'), expect: 200, body: ROOM },
  { name: 'Transfer-Encoding with trailing OWS', rfc: 'RFC 9112 §5.1', bytes: restChunked(15, {}, 'CHUNKED \t'), expect: 200, body: ROOM },
  { name: 'Content-Length with leading zeros', rfc: 'RFC 9110 §8.6 (1*DIGIT)', bytes: restPost(`Content-Length: 000${memberJson(16).length}\r\n`, memberJson(16)), expect: 200, body: ROOM },
  { name: 'Content-Length: 0', rfc: 'RFC 9110 §8.6', bytes: get(`${H}Content-Length: 0\r\n`), expect: 200 },
  { name: 'GET with a Content-Length body', rfc: 'RFC 9110 §9.3.1, RFC 9112 §6.3', bytes: get(`${H}Content-Length: 2\r\n`) + 'ok', expect: 200 },
  { name: 'Host with a port', rfc: 'RFC 9112 §3.2', bytes: get('Host: localhost:8084\r\n'), expect: 200 },
  { name: 'Host as an IPv6 literal', rfc: 'RFC 9112 §3.2, RFC 3986 §3.2.2', bytes: get('Host: [::1]:8084\r\n'), expect: 200 },
  { name: 'Host as an IPv4 address', rfc: 'RFC 9112 §3.2', bytes: get('Host: 127.0.0.1\r\n'), expect: 200 },
  { name: 'empty Host', rfc: 'RFC 9112 §3.2', bytes: get('Host:\r\n'), expect: 200 },
  { name: 'HTTP/1.0 without Host', rfc: 'RFC 9112 §3.2 (HTTP/1.1 only)', bytes: get('', LIVE, 'HTTP/1.0'), expect: 200 },
  { name: 'field names: every tchar', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}!#$%&'*+-.^_\`|~09AZaz: v\r\n`), expect: 200 },
  { name: 'field value with obs-text', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-Name: \xea\xb9\x80\xff\r\n`), expect: 200 },
  { name: 'field value with inner HTAB and SP', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: a\t b  c\r\n`), expect: 200 },
  { name: 'field value with all VCHARs', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: !"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~\r\n`), expect: 200 },
  { name: 'empty field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-Empty:\r\n`), expect: 200 },
  { name: 'field value of only OWS', rfc: 'RFC 9112 §5.1', bytes: get(`${H}X-Empty: \t \r\n`), expect: 200 },
  { name: 'no space after the colon', rfc: 'RFC 9112 §5.1 (OWS)', bytes: get(`Host:x\r\nAccept:*/*\r\n`), expect: 200 },
  { name: 'repeated list field', rfc: 'RFC 9110 §5.3', bytes: get(`${H}Accept: a\r\nAccept: b\r\n`), expect: 200 },
  { name: 'eight ordinary headers', rfc: 'RFC 9112 §5', bytes: get(`Host: localhost:8084\r\nUser-Agent: t/1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: ko-KR\r\nCache-Control: no-cache\r\nX-Request-Id: 1\r\nReferer: http://x/\r\n`), expect: 200 },
  { name: 'query with percent-encoding and reserved characters', rfc: 'RFC 9112 §3.2.1, RFC 3986 §3.4', bytes: get(H, `${LIVE}?a=%20b&c=/d?e:f@g`), expect: 200 },
  { name: 'target with sub-delims in the path', rfc: 'RFC 3986 §3.3', bytes: get(`${H}Connection: close\r\n`, "/a!$&'()*+,;=:@b"), expect: 404 },
  { name: 'method known to the server, not allowed on the route', rfc: 'RFC 9110 §15.5.6; 405 app', bytes: `PATCH ${LIVE} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, expect: 405 },
  { name: 'PROPFIND on a route', rfc: 'RFC 9110 §15.5.6; 405 app', bytes: `PROPFIND ${LIVE} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, expect: 405 },
  { name: 'OPTIONS * is accepted', rfc: 'RFC 9112 §3.2.4; 404 app (no server-wide OPTIONS)', bytes: `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, expect: 404 },
  { name: 'CORS preflight OPTIONS', rfc: 'RFC 9110 §9.3.7; 200 app', bytes: `OPTIONS ${LIVE} HTTP/1.1\r\n${H}Origin: http://a.example\r\nAccess-Control-Request-Method: GET\r\n\r\n`, expect: 200 },
  { name: 'WebSocket upgrade', rfc: 'RFC 6455 §4.2.2, RFC 9110 §7.8', bytes: `GET /ws-chat HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v12.stomp\r\n\r\n`, expect: 101 },
  { name: 'WebSocket upgrade with an unsupported version', rfc: 'RFC 6455 §4.4', bytes: `GET /ws-chat HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, expect: 426 },
  { name: 'request in many small writes', rfc: 'RFC 9112 §2.1', bytes: ['GE', 'T /actuator/he', 'alth/liveness HT', 'TP/1.1\r', '\nHo', 'st: x\r\n', '\r', '\n'], expect: 200 },
  { name: 'chunked body in many small writes', rfc: 'RFC 9112 §7.1', bytes: splitAt(restChunked(17), [3, 40, 120, 131, 132, 133, 150, 170, 171]), expect: 200, body: ROOM },
  { name: 'header section just under the limit', rfc: 'RFC 6585 §5', bytes: get(`${H}X-Pad: ${'a'.repeat(LIMITS.headerBytes - 100)}\r\n`), expect: 200 },
  { name: 'body exactly at the limit', rfc: 'RFC 9110 §15.5.14', bytes: restPost(`Content-Length: ${LIMITS.bodyBytes}\r\n`, memberJson(18).padEnd(LIMITS.bodyBytes, ' ')), expect: 200, body: ROOM },

  // ---- request line ----
  { name: 'HTTP/0.9 simple request', rfc: 'RFC 9112 §3, appendix C.1', bytes: 'GET /\r\n', expect: 400 },
  { name: 'HTTP/0.9 simple request with a path', rfc: 'RFC 9112 §3', bytes: `GET ${LIVE}\r\n\r\n`, expect: 400 },
  { name: 'method alone', rfc: 'RFC 9112 §3', bytes: 'GET\r\n\r\n', expect: 400 },
  { name: 'method and SP, no target', rfc: 'RFC 9112 §3', bytes: 'GET \r\n\r\n', expect: 400 },
  { name: 'target then SP, no version', rfc: 'RFC 9112 §3', bytes: `GET ${LIVE} \r\n${H}\r\n`, expect: 400 },
  { name: 'two SP after the method', rfc: 'RFC 9112 §3', bytes: `GET  ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'two SP before the version', rfc: 'RFC 9112 §3', bytes: `GET ${LIVE}  HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'SP after the version', rfc: 'RFC 9112 §3', bytes: `GET ${LIVE} HTTP/1.1 \r\n${H}\r\n`, expect: 400 },
  { name: 'HTAB instead of SP after the method', rfc: 'RFC 9112 §3', bytes: `GET\t${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'HTAB instead of SP before the version', rfc: 'RFC 9112 §3', bytes: `GET ${LIVE}\tHTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'SP before the method', rfc: 'RFC 9112 §3', bytes: ` GET ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'SP inside the target', rfc: 'RFC 9112 §3.2', bytes: `GET /a b HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'target that is no form', rfc: 'RFC 9112 §3.2', bytes: `GET actuator HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'asterisk-form with GET', rfc: 'RFC 9112 §3.2.4', bytes: `GET * HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'absolute-form with an empty host', rfc: 'RFC 9110 §4.2.1', bytes: get(H, 'http:///x'), expect: 400 },
  { name: 'absolute-form with userinfo', rfc: 'RFC 9110 §4.2.4', bytes: get(H, `http://user:pw@x${LIVE}`), expect: 400 },
  { name: 'absolute-form with a non-HTTP scheme', rfc: 'RFC 9112 §3.2.2', bytes: get(H, 'ftp://x/file'), expect: 400 },
  { name: 'absolute-form missing //', rfc: 'RFC 9112 §3.2.2, RFC 3986 §3', bytes: get(H, 'http:x/y'), expect: 400 },
  { name: 'NUL in the target', rfc: 'RFC 9112 §3.2, §2.2', bytes: `GET /\x00 HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'control byte in the target', rfc: 'RFC 9112 §3.2', bytes: `GET /\x01 HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'ESC in the target', rfc: 'RFC 9112 §3.2', bytes: `GET /\x1b[31m HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'DEL in the target', rfc: 'RFC 9112 §3.2', bytes: `GET /\x7f HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'byte >= 0x80 in the target', rfc: 'RFC 9112 §3.2, RFC 3986 §2', bytes: `GET /\x80 HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'raw UTF-8 in the target', rfc: 'RFC 3986 §2.1 (must be percent-encoded)', bytes: Buffer.from(`GET /채팅 HTTP/1.1\r\n${H}\r\n`, 'utf8'), expect: 400 },
  { name: 'version in lower case', rfc: 'RFC 9112 §2.3 (HTTP-name is case-sensitive)', bytes: get(H, LIVE, 'http/1.1'), expect: 400 },
  { name: 'version HTPT/1.1', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTPT/1.1'), expect: 400 },
  { name: 'version HTTP/1.10', rfc: 'RFC 9112 §2.3 (one digit each)', bytes: get(H, LIVE, 'HTTP/1.10'), expect: 400 },
  { name: 'version HTTP/1', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP/1'), expect: 400 },
  { name: 'version HTTP/1.', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP/1.'), expect: 400 },
  { name: 'version HTTP/11', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP/11'), expect: 400 },
  { name: 'version HTTP/a.b', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP/a.b'), expect: 400 },
  { name: 'version with SP inside', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP /1.1'), expect: 400 },
  { name: 'version HTTP/1,1', rfc: 'RFC 9112 §2.3', bytes: get(H, LIVE, 'HTTP/1,1'), expect: 400 },
  { name: 'version HTTP/2.0', rfc: 'RFC 9110 §15.6.6', bytes: get(H, LIVE, 'HTTP/2.0'), expect: 505 },
  { name: 'version HTTP/1.2', rfc: 'RFC 9110 §15.6.6, §2.5', bytes: get(H, LIVE, 'HTTP/1.2'), expect: 505 },
  { name: 'version HTTP/0.9 written as a version', rfc: 'RFC 9110 §15.6.6', bytes: get(H, LIVE, 'HTTP/0.9'), expect: 505 },
  { name: 'version HTTP/3.0', rfc: 'RFC 9110 §15.6.6', bytes: get(H, LIVE, 'HTTP/3.0'), expect: 505 },
  { name: 'version HTTP/9.9', rfc: 'RFC 9110 §15.6.6', bytes: get(H, LIVE, 'HTTP/9.9'), expect: 505 },
  { name: 'HTTP/2 connection preface on the HTTP/1.1 port', rfc: 'RFC 9113 §3.4, RFC 9110 §15.6.6', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expect: 505 },
  { name: 'unknown method', rfc: 'RFC 9110 §9.1, §15.6.2', bytes: `BREW /pot HTTP/1.1\r\n${H}\r\n`, expect: 501 },
  { name: 'method in lower case (methods are case-sensitive)', rfc: 'RFC 9110 §9.1', bytes: `get ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 501 },
  { name: 'long unknown method token', rfc: 'RFC 9110 §9.1', bytes: `${'X'.repeat(200)} / HTTP/1.1\r\n${H}\r\n`, expect: 501 },
  { name: 'method with a non-tchar', rfc: 'RFC 9110 §5.6.2, RFC 9112 §3.1', bytes: `G(T ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'method with a quote', rfc: 'RFC 9110 §5.6.2', bytes: `GE"T ${LIVE} HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'CONNECT (chatd is no proxy)', rfc: 'RFC 9110 §9.3.6, §15.6.2', bytes: `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, expect: 501 },
  { name: 'CONNECT with origin-form', rfc: 'RFC 9112 §3.2.3', bytes: `CONNECT / HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'CONNECT without a port', rfc: 'RFC 9112 §3.2.3', bytes: `CONNECT example.com HTTP/1.1\r\n${H}\r\n`, expect: 400 },
  { name: 'request target over the header limit', rfc: 'RFC 9112 §3 (MUST 414)', bytes: get(H, `/${'a'.repeat(LIMITS.headerBytes + 10)}`), expect: 414 },
  { name: 'request line fitting, then fields over the limit', rfc: 'RFC 6585 §5', bytes: get(`${H}X-Big: ${'a'.repeat(LIMITS.headerBytes)}\r\n`, `/${'a'.repeat(LIMITS.headerBytes - 100)}`), expect: 431 },

  // ---- field lines ----
  { name: 'whitespace between field name and colon', rfc: 'RFC 9112 §5.1 (MUST 400)', bytes: get('Host : x\r\n'), expect: 400 },
  { name: 'HTAB between field name and colon', rfc: 'RFC 9112 §5.1', bytes: get(`${H}X-A\t: b\r\n`), expect: 400 },
  { name: 'empty field name', rfc: 'RFC 9112 §5', bytes: get(`${H}: b\r\n`), expect: 400 },
  { name: 'SP inside a field name', rfc: 'RFC 9110 §5.1', bytes: get(`${H}X A: b\r\n`), expect: 400 },
  { name: 'parenthesis in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X(A): b\r\n`), expect: 400 },
  { name: 'slash in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X/A: b\r\n`), expect: 400 },
  { name: 'at sign in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X@A: b\r\n`), expect: 400 },
  { name: 'brackets in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X[A]: b\r\n`), expect: 400 },
  { name: 'byte >= 0x80 in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X\xe9: b\r\n`), expect: 400 },
  { name: 'field line without a colon', rfc: 'RFC 9112 §5', bytes: get(`${H}NoColon\r\n`), expect: 400 },
  { name: 'obs-fold with SP', rfc: 'RFC 9112 §5.2', bytes: get(`${H}X-A: a\r\n b\r\n`), expect: 400 },
  { name: 'obs-fold with HTAB', rfc: 'RFC 9112 §5.2', bytes: get(`${H}X-A: a\r\n\tb\r\n`), expect: 400 },
  { name: 'whitespace before the first field line', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\n ${H}\r\n`, expect: 400 },
  { name: 'HTAB before the first field line', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\n\t${H}\r\n`, expect: 400 },
  { name: 'NUL in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: a\x00b\r\n`), expect: 400 },
  { name: 'NUL in a field name', rfc: 'RFC 9110 §5.6.2', bytes: get(`${H}X\x00A: b\r\n`), expect: 400 },
  { name: 'control byte in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: a\x01\r\n`), expect: 400 },
  { name: 'DEL in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: a\x7f\r\n`), expect: 400 },
  { name: 'vertical tab in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: \x0bb\r\n`), expect: 400 },
  { name: 'form feed in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: \x0cb\r\n`), expect: 400 },
  { name: 'ESC in a field value', rfc: 'RFC 9110 §5.5', bytes: get(`${H}X-A: \x1b[0m\r\n`), expect: 400 },
  { name: 'Host missing in HTTP/1.1', rfc: 'RFC 9112 §3.2 (MUST 400)', bytes: get('Accept: */*\r\n'), expect: 400 },
  { name: 'no fields at all in HTTP/1.1', rfc: 'RFC 9112 §3.2', bytes: get(''), expect: 400 },
  { name: 'Host twice, same value', rfc: 'RFC 9112 §3.2 (MUST 400)', bytes: get('Host: x\r\nHost: x\r\n'), expect: 400 },
  { name: 'Host twice, different values', rfc: 'RFC 9112 §3.2', bytes: get('Host: x\r\nhost: y\r\n'), expect: 400 },
  { name: 'Host twice in HTTP/1.0', rfc: 'RFC 9112 §3.2', bytes: get('Host: x\r\nHost: y\r\n', LIVE, 'HTTP/1.0'), expect: 400 },
  { name: 'Host with SP inside', rfc: 'RFC 9112 §3.2 (invalid field value)', bytes: get('Host: a b\r\n'), expect: 400 },
  { name: 'Host with userinfo', rfc: 'RFC 9112 §3.2, RFC 9110 §4.2.4', bytes: get('Host: u@x\r\n'), expect: 400 },
  { name: 'Host with a path', rfc: 'RFC 9112 §3.2', bytes: get('Host: x/y\r\n'), expect: 400 },
  { name: 'Host with a non-numeric port', rfc: 'RFC 9112 §3.2, RFC 3986 §3.2.3', bytes: get('Host: x:http\r\n'), expect: 400 },
  { name: 'Host with an unclosed IPv6 literal', rfc: 'RFC 3986 §3.2.2', bytes: get('Host: [::1\r\n'), expect: 400 },
  { name: 'Host with a broken percent-escape', rfc: 'RFC 3986 §2.1', bytes: get('Host: %zz\r\n'), expect: 400 },

  // ---- Content-Length ----
  { name: 'Content-Length negative', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: -1\r\n'), expect: 400 },
  { name: 'Content-Length with a plus sign', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: +3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length in hex', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: 0x3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length with a letter', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: 3a\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length with a decimal point', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: 3.0\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length with SP inside', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: 3 3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length empty', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length:\r\n'), expect: 400 },
  { name: 'Content-Length list of equal values', rfc: 'RFC 9110 §8.6 (MAY accept; refused)', bytes: post('Content-Length: 3, 3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length list of different values', rfc: 'RFC 9112 §6.3 (5)', bytes: post('Content-Length: 3, 4\r\n', 'abcd'), expect: 400 },
  { name: 'Content-Length twice, equal values', rfc: 'RFC 9110 §8.6 (MAY accept; refused)', bytes: post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length twice, different values', rfc: 'RFC 9112 §6.3 (5); Linhart 2005', bytes: post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), expect: 400 },
  { name: 'Content-Length of 2^64 (overflow)', rfc: 'RFC 9110 §8.6 (anticipate overflow)', bytes: post('Content-Length: 18446744073709551616\r\n'), expect: 400 },
  { name: 'Content-Length of 20 nines (overflow)', rfc: 'RFC 9110 §8.6', bytes: post('Content-Length: 99999999999999999999\r\n'), expect: 400 },
  { name: 'Content-Length over the body limit', rfc: 'RFC 9110 §15.5.14', bytes: post(`Content-Length: ${LIMITS.bodyBytes + 1}\r\n`), expect: 413 },
  { name: 'Content-Length of 2^64-1', rfc: 'RFC 9110 §15.5.14', bytes: post('Content-Length: 18446744073709551615\r\n'), expect: 413 },
  { name: 'Content-Length with a vertical tab', rfc: 'RFC 9110 §5.5', bytes: post('Content-Length:\x0b3\r\n', 'abc'), expect: 400 },
  { name: 'Content-Length shorter than the bytes sent: the rest is a new request', rfc: 'RFC 9112 §6.3, §9.3.2', bytes: get(`${H}Content-Length: 2\r\n`) + 'okGARBAGE\r\n\r\n', expect: [200, 400] },
  { name: 'Content-Length body never completed', rfc: 'RFC 9112 §8', bytes: post('Content-Length: 10\r\n', 'abc'), end: true, expect: 'close' },

  // ---- Transfer-Encoding ----
  { name: 'Transfer-Encoding: gzip', rfc: 'RFC 9112 §6.1 (501 allowed; 400 chosen, body length unknown)', bytes: post('Transfer-Encoding: gzip\r\n', 'abc'), expect: 400 },
  { name: 'Transfer-Encoding: identity', rfc: 'RFC 9112 §6.1, §7 (identity is no coding)', bytes: post('Transfer-Encoding: identity\r\n', 'abc'), expect: 400 },
  { name: 'Transfer-Encoding: chunked, gzip', rfc: 'RFC 9112 §6.3 (chunked not final)', bytes: post('Transfer-Encoding: chunked, gzip\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: gzip, chunked', rfc: 'RFC 9112 §6.1', bytes: post('Transfer-Encoding: gzip, chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: chunked, chunked', rfc: 'RFC 9112 §6.1 (MUST NOT chunk twice)', bytes: post('Transfer-Encoding: chunked, chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: chunked, identity', rfc: 'RFC 9112 §6.3; Kettle 2019', bytes: post('Transfer-Encoding: chunked, identity\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: xchunked', rfc: 'Kettle 2019 (TE.TE)', bytes: post('Transfer-Encoding: xchunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: chunkedx', rfc: 'Kettle 2019 (TE.TE)', bytes: post('Transfer-Encoding: chunkedx\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: "chunked" quoted', rfc: 'RFC 9112 §7', bytes: post('Transfer-Encoding: "chunked"\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: chunked;q=1', rfc: 'RFC 9112 §7 (chunked has no parameters)', bytes: post('Transfer-Encoding: chunked;q=1\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding empty', rfc: 'RFC 9112 §6.1', bytes: post('Transfer-Encoding:\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding: chunked, (empty element)', rfc: 'RFC 9112 §6.1', bytes: post('Transfer-Encoding: chunked,\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding twice: chunked and chunked', rfc: 'RFC 9112 §6.1; Kettle 2019 (TE.TE)', bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding twice: chunked and x', rfc: 'Kettle 2019 (TE.TE)', bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding with space before the colon', rfc: 'RFC 9112 §5.1; Kettle 2019 (TE.TE)', bytes: post('Transfer-Encoding : chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding with a vertical tab', rfc: 'RFC 9110 §5.5; Kettle 2019', bytes: post('Transfer-Encoding:\x0bchunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding behind a leading space (folded)', rfc: 'RFC 9112 §5.2; Kettle 2019 (TE.TE)', bytes: post(`X: y\r\n Transfer-Encoding: chunked\r\n`, chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding value folded onto the next line', rfc: 'RFC 9112 §5.2; Kettle 2019', bytes: post('Transfer-Encoding:\r\n chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer-Encoding after a bare LF', rfc: 'RFC 9112 §2.2 (bare LF refused); Kettle 2019', bytes: post('X: y\nTransfer-Encoding: chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'Transfer_Encoding is another field: no body, the chunk is a new request', rfc: 'RFC 9112 §6.3 (7); Kettle 2019', bytes: get(`${H}Transfer_Encoding: chunked\r\n`) + '0\r\n\r\n', expect: [200, 400] },
  { name: 'Transfer-Encoding in HTTP/1.0', rfc: 'RFC 9112 §6.1', bytes: `POST ${LIVE} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${chunks(['x'])}`, expect: 400 },
  { name: 'CL.TE: Content-Length then Transfer-Encoding', rfc: 'RFC 9112 §6.1, §6.3 (3); Linhart 2005', bytes: post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nG'), expect: 400 },
  { name: 'TE.CL: Transfer-Encoding then Content-Length', rfc: 'RFC 9112 §6.1, §6.3 (3); Kettle 2019', bytes: post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', `8\r\nSMUGGLED\r\n0\r\n\r\n`), expect: 400 },
  { name: 'TE with Content-Length: 0', rfc: 'RFC 9112 §6.1', bytes: post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', chunks(['x'])), expect: 400 },
  { name: 'obfuscated TE (xchunked) with Content-Length', rfc: 'Kettle 2019 (TE.CL via TE.TE)', bytes: post('Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n', '5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n'), expect: 400 },

  // ---- chunked framing ----
  { name: 'chunk data not followed by CRLF', rfc: 'RFC 9112 §7.1', bytes: chunked('3\r\nabcX\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk data followed by a bare LF', rfc: 'RFC 9112 §7.1, §2.2', bytes: chunked('3\r\nabc\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk data followed by a bare CR', rfc: 'RFC 9112 §7.1', bytes: chunked('3\r\nabc\r0\r\n\r\n'), expect: 400 },
  { name: 'chunk longer than its size', rfc: 'RFC 9112 §7.1', bytes: chunked('3\r\nabcd\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk shorter than its size', rfc: 'RFC 9112 §7.1', bytes: chunked('3\r\nab\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk without a size', rfc: 'RFC 9112 §7.1', bytes: chunked('\r\nabc\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size negative', rfc: 'RFC 9112 §7.1', bytes: chunked('-1\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size with a plus sign', rfc: 'RFC 9112 §7.1', bytes: chunked('+1\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size with 0x', rfc: 'RFC 9112 §7.1', bytes: chunked('0x1\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size after whitespace', rfc: 'RFC 9112 §7.1', bytes: chunked(' 1\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size with trailing whitespace', rfc: 'RFC 9112 §7.1.1 (BWS only before ;)', bytes: chunked('1 \r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size not hex', rfc: 'RFC 9112 §7.1', bytes: chunked('g\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size line ending in a bare LF', rfc: 'RFC 9112 §7.1, §2.2', bytes: chunked('1\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'last chunk ending in bare LFs', rfc: 'RFC 9112 §7.1, §2.2', bytes: chunked('1\r\na\r\n0\n\n'), expect: 400 },
  { name: 'chunk size of 17 hex digits (overflow)', rfc: 'RFC 9112 §7.1 (anticipate overflow)', bytes: chunked('10000000000000000\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk size over the body limit', rfc: 'RFC 9110 §15.5.14', bytes: chunked(`${(LIMITS.bodyBytes + 1).toString(16)}\r\n`), expect: 413 },
  { name: 'chunks adding up over the body limit', rfc: 'RFC 9110 §15.5.14', bytes: chunked(`${(LIMITS.bodyBytes / 2).toString(16)}\r\n${'a'.repeat(LIMITS.bodyBytes / 2)}\r\n${(LIMITS.bodyBytes / 2 + 1).toString(16)}\r\n`), expect: 413 },
  { name: 'chunk size 16 f digits', rfc: 'RFC 9110 §15.5.14', bytes: chunked('ffffffffffffffff\r\n'), expect: 413 },
  { name: 'chunk extension without a name', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with an empty name', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;=v\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with an empty value', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;a=\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with an unterminated quoted-string', rfc: 'RFC 9110 §5.6.4', bytes: chunked('1;a="x\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with SP inside a token value', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;a=b c\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension value with a non-tchar', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;a=(b)\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with a control byte', rfc: 'RFC 9112 §7.1.1', bytes: chunked('1;a\x01\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension with a bare LF', rfc: 'RFC 9112 §7.1.1, §2.2', bytes: chunked('1;a\nb\r\na\r\n0\r\n\r\n'), expect: 400 },
  { name: 'chunk extension too long', rfc: 'RFC 9112 §7.1.1 (bound; CVE-2023-39326)', bytes: chunked(`1;x=${'a'.repeat(5000)}\r\na\r\n0\r\n\r\n`), expect: 400 },
  { name: 'trailer with space before the colon', rfc: 'RFC 9112 §7.1.2, §5.1', bytes: chunked('1\r\na\r\n0\r\nX : y\r\n\r\n'), expect: 400 },
  { name: 'trailer with obs-fold', rfc: 'RFC 9112 §7.1.2, §5.2', bytes: chunked('1\r\na\r\n0\r\nX: y\r\n z\r\n\r\n'), expect: 400 },
  { name: 'trailer with NUL', rfc: 'RFC 9112 §7.1.2, RFC 9110 §5.5', bytes: chunked('1\r\na\r\n0\r\nX: \x00\r\n\r\n'), expect: 400 },
  { name: 'trailer without a colon', rfc: 'RFC 9112 §7.1.2', bytes: chunked('1\r\na\r\n0\r\nNoColon\r\n\r\n'), expect: 400 },
  { name: 'trailer section over the header limit', rfc: 'RFC 9112 §7.1.2, RFC 6585 §5', bytes: chunked(`0\r\nX: ${'a'.repeat(LIMITS.headerBytes + 10)}\r\n\r\n`), expect: 431 },
  { name: 'chunked body never completed', rfc: 'RFC 9112 §8', bytes: chunked('3\r\nab'), end: true, expect: 'close' },
  { name: 'last chunk without the final CRLF', rfc: 'RFC 9112 §8, §7.1', bytes: chunked('1\r\na\r\n0\r\n'), end: true, expect: 'close' },

  // ---- line endings ----
  { name: 'bare LF line ends throughout', rfc: 'RFC 9112 §2.2 (MAY accept; refused)', bytes: `GET ${LIVE} HTTP/1.1\nHost: x\n\n`, expect: 400 },
  { name: 'bare LF after the request line', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\n${H}\r\n`, expect: 400 },
  { name: 'bare LF after a field', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\nHost: x\n\r\n`, expect: 400 },
  { name: 'bare LF ending the header section', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\n${H}\n`, expect: 400 },
  { name: 'bare LF before the request line', rfc: 'RFC 9112 §2.2', bytes: `\n${get()}`, expect: 400 },
  { name: 'bare CR in the request line', rfc: 'RFC 9112 §2.2 (MUST reject or replace)', bytes: `GET ${LIVE} HTTP/1.1\r${H}\r\n`, expect: 400 },
  { name: 'bare CR in a field', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\nHost: x\rX: y\r\n\r\n`, expect: 400 },
  { name: 'CR CR LF', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\r\n${H}\r\n`, expect: 400 },
  { name: 'bare CR before the request line', rfc: 'RFC 9112 §2.2', bytes: `\r${get()}`, expect: 400 },
  { name: 'bare CR ending the header section', rfc: 'RFC 9112 §2.2', bytes: `GET ${LIVE} HTTP/1.1\r\n${H}\r\r\n`, expect: 400 },

  // ---- not HTTP at all ----
  { name: 'TLS ClientHello on the plain port', rfc: 'RFC 9112 §2.2, §3 (not a request line)', bytes: CLIENT_HELLO, expect: 400 },
  { name: 'NUL bytes', rfc: 'RFC 9112 §2.2', bytes: Buffer.alloc(64, 0), expect: 400 },
  { name: 'binary garbage', rfc: 'RFC 9112 §2.2', bytes: Buffer.from('8badf00ddeadbeef0102030405060708090a0b0c0d0e0f', 'hex'), expect: 400 },
  { name: 'bytes 0xff', rfc: 'RFC 9112 §2.2', bytes: Buffer.alloc(16, 0xff), expect: 400 },
  { name: 'JSON instead of a request', rfc: 'RFC 9112 §3', bytes: '{"hello":"world"}\r\n\r\n', expect: 400 },
  { name: 'a word and CRLF', rfc: 'RFC 9112 §3', bytes: 'HELLO\r\n\r\n', expect: 400 },
  { name: 'an SSH banner', rfc: 'RFC 9112 §3', bytes: 'SSH-2.0-OpenSSH_9.2p1\r\n', expect: 400 },
  { name: 'a PROXY protocol v1 line', rfc: 'RFC 9112 §3', bytes: 'PROXY TCP4 192.0.2.1 192.0.2.2 56324 8084\r\n' + get(), expect: 400 },
  { name: 'a RESP (Redis) command', rfc: 'RFC 9112 §3', bytes: '*1\r\n$4\r\nPING\r\n', expect: 400 },
  { name: 'an SMTP greeting', rfc: 'RFC 9112 §3', bytes: 'EHLO client.example\r\n', expect: 400 },
  { name: 'garbage after a valid request', rfc: 'RFC 9112 §9.3.2', bytes: get() + '\x16\x03\x01\x00', expect: [200, 400] },

  // ---- limits ----
  { name: 'one field over the header limit', rfc: 'RFC 6585 §5', bytes: get(`${H}X-Big: ${'a'.repeat(LIMITS.headerBytes + 10)}\r\n`), expect: 431 },
  { name: 'many fields adding up over the header limit', rfc: 'RFC 6585 §5', bytes: get(H + Array.from({ length: 400 }, (_, i) => `X-F${i}: ${'v'.repeat(40)}\r\n`).join('')), expect: 431 },
  { name: 'header section over the limit in slow pieces', rfc: 'RFC 6585 §5', bytes: [`GET ${LIVE} HTTP/1.1\r\n`, ...Array.from({ length: 5 }, () => `X-Slow: ${'s'.repeat(LIMITS.headerBytes / 4)}\r\n`), '\r\n'], expect: 431 },
  { name: 'unfinished request line over the limit', rfc: 'RFC 9112 §3 (MUST 414)', bytes: `GET /${'a'.repeat(LIMITS.headerBytes + 10)}`, expect: 414 },
  { name: 'unfinished field line over the limit', rfc: 'RFC 6585 §5', bytes: `GET / HTTP/1.1\r\nX: ${'a'.repeat(LIMITS.headerBytes + 10)}`, expect: 431 },
  { name: 'empty lines flooding before a request', rfc: 'RFC 9112 §2.2 (SHOULD ignore at least one); RFC 6585 §5', bytes: '\r\n'.repeat(LIMITS.headerBytes), expect: 431 },

  // ---- incomplete requests: the client gives up ----
  { name: 'request line only, then FIN', rfc: 'RFC 9112 §8', bytes: `GET ${LIVE} HTTP/1.1\r\n`, end: true, expect: 'close' },
  { name: 'headers without their end, then FIN', rfc: 'RFC 9112 §8', bytes: `GET ${LIVE} HTTP/1.1\r\n${H}`, end: true, expect: 'close' },
  { name: 'part of a method, then FIN', rfc: 'RFC 9112 §8', bytes: 'GE', end: true, expect: 'close' },
  { name: 'empty lines only, then FIN', rfc: 'RFC 9112 §2.2, §8', bytes: '\r\n\r\n', end: true, expect: 'close' },
];
