/* WebSocket (RFC 6455), pure: handshake validation, outbound frame headers and UTF-8
 * validation. The inbound session is in ws_session.c. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ws.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- handshake ---- */

void chat_ws_accept_key(const char *key, char out[29]) {
  char joined[128];
  int n = snprintf(joined, sizeof joined, "%.64s%s", key, GUID);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)joined, (size_t)n, digest);
  EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* True when the comma-separated header value contains `token` (case-insensitive), as
 * "Connection: keep-alive, Upgrade" does for "upgrade". */
static int has_token(const char *value, const char *token) {
  size_t tlen = strlen(token);
  for (const char *p = value; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    size_t n = strcspn(p, ",");
    size_t trimmed = n;
    while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t')) trimmed--;
    if (trimmed == tlen && strncasecmp(p, token, tlen) == 0) return 1;
    p += n;
  }
  return 0;
}

/* The header is looked up here rather than through http.c so that this file links on its
 * own, and every occurrence is searched because a client may split a list header over
 * several lines (RFC 9110 §5.3). */
static int header_has_token(const chat_http_request *req, const char *name, const char *token) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0 && has_token(req->headers[i].value, token))
      return 1;
  return 0;
}

static const char *header(const chat_http_request *req, const char *name) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

static const char *trim(const char *s, size_t *len) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  *len = n;
  return s;
}

/* RFC 6455 §4.2.1 asks for a key that "when decoded, is 16 bytes in length": in base64
 * that is exactly 22 alphabet characters followed by "==". */
static int valid_key(const char *key, size_t len) {
  if (len != 24 || key[22] != '=' || key[23] != '=') return 0;
  for (size_t i = 0; i < 22; i++) {
    char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/'))
      return 0;
  }
  return 1;
}

const char *chat_ws_select_protocol(const char *offered) {
  /* Spring (and stomp.js, which offers all three) expect the newest version to win. */
  static const char *const preferred[] = {"v12.stomp", "v11.stomp", "v10.stomp"};
  for (int i = 0; i < 3 && offered; i++)
    if (has_token(offered, preferred[i])) return preferred[i];
  return NULL;
}

static const char *select_protocol(const chat_http_request *req) {
  const char *best = NULL;
  for (size_t i = 0; i < req->header_count; i++) {
    if (strcasecmp(req->headers[i].name, "sec-websocket-protocol") != 0) continue;
    const char *p = chat_ws_select_protocol(req->headers[i].value);
    /* The names sort by preference ("v12" > "v11" > "v10"), so comparing them picks the
     * newest across several header lines too. */
    if (p && (best == NULL || strcmp(p, best) > 0)) best = p;
  }
  return best;
}

long chat_ws_handshake(const chat_http_request *req, char *out, size_t cap, int *status,
                       const char **reason) {
  *status = 400;
  /* The texts follow Spring's HandshakeFailureException messages where it has one. */
  if (req->method == NULL || strcmp(req->method, "GET") != 0) {
    *reason = "Invalid handshake: a WebSocket handshake must be a GET request.";
    return -1;
  }
  if (req->http_minor < 1) {
    *reason = "Invalid handshake: a WebSocket handshake needs HTTP/1.1.";
    return -1;
  }
  if (!header_has_token(req, "upgrade", "websocket")) {
    *reason = "Can \"Upgrade\" only to \"WebSocket\".";
    return -1;
  }
  if (!header_has_token(req, "connection", "upgrade")) {
    *reason = "\"Connection\" must be \"upgrade\".";
    return -1;
  }
  const char *version = header(req, "sec-websocket-version");
  size_t vlen = 0;
  if (version) version = trim(version, &vlen);
  if (version == NULL || vlen != 2 || memcmp(version, "13", 2) != 0) {
    *status = 426;
    *reason = "Unsupported WebSocket version: this server supports 13.";
    return -1;
  }
  const char *key = header(req, "sec-websocket-key");
  size_t klen = 0;
  if (key) key = trim(key, &klen);
  if (key == NULL || !valid_key(key, klen)) {
    *reason = "Missing or invalid \"Sec-WebSocket-Key\" header.";
    return -1;
  }
  char trimmed_key[25];
  memcpy(trimmed_key, key, 24);
  trimmed_key[24] = '\0';
  char accept[29];
  chat_ws_accept_key(trimmed_key, accept);
  const char *protocol = select_protocol(req);
  int n = snprintf(out, cap,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                   accept, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                   protocol ? "\r\n" : "");
  if (n < 0 || (size_t)n >= cap) {
    *status = 500;
    *reason = "handshake response too long";
    return -1;
  }
  return n;
}

/* ---- outbound data frames ---- */

size_t chat_ws_frame_header(uint8_t out[10], int opcode, uint64_t len) {
  out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

/* ---- UTF-8 ---- */

int chat_ws_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    /* 0xc0, 0xc1 and 0xf5..0xff can only start overlong or out-of-range sequences. */
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}
