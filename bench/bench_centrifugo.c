/* Centrifugo's client protocol as chat-bench speaks it (JSON over WebSocket, protocol v2
 * of centrifugal/protocol: commands {"id":N,"connect":{...}}, replies {"id":N,"connect":
 * {...}} or {"id":N,"error":{...}}, pushes {"push":{"channel":...,"pub":{"data":...}}},
 * the server's ping an empty object {} answered by {}), and the publish method of its
 * server HTTP API. Only what the load generator needs: the replies are recognised by
 * their shape, not decoded, as chat-bench reads STOMP bodies. */
#include "bench_centrifugo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The data chat-bench publishes is {"t":<send time ns>,"n":<sequence>}. */
static uint64_t publication_time(const char *json, size_t len) {
  const char *end = json + len, *data = memmem(json, len, "\"data\":", 7);
  if (data == NULL) return 0;
  const char *t = memmem(data, (size_t)(end - data), "\"t\":", 4);
  return t ? strtoull(t + 4, NULL, 10) : 0;
}

static bench_cf_event classify(const char *json, size_t len) {
  if (len == 2 && json[0] == '{' && json[1] == '}') return BENCH_CF_PING;
  if (len > 8 && strncmp(json, "{\"push\":", 8) == 0) {
    if (memmem(json, len, "\"pub\":", 6)) return BENCH_CF_PUBLICATION;
    if (memmem(json, len, "\"disconnect\":", 13)) return BENCH_CF_ERROR;
    return BENCH_CF_OTHER;
  }
  if (len > 6 && strncmp(json, "{\"id\":", 6) == 0) {
    char *after;
    unsigned long id = strtoul(json + 6, &after, 10);
    size_t rest = len - (size_t)(after - json);
    /* A reply's error comes right after its id (the order of the protocol's fields). */
    if (rest > 9 && strncmp(after, ",\"error\":", 9) == 0) return BENCH_CF_ERROR;
    if (id == BENCH_CF_CONNECT_ID && rest > 11 && strncmp(after, ",\"connect\":", 11) == 0)
      return BENCH_CF_CONNECTED;
    if (id == BENCH_CF_SUBSCRIBE_ID && rest > 13 && strncmp(after, ",\"subscribe\":", 13) == 0)
      return BENCH_CF_SUBSCRIBED;
  }
  return BENCH_CF_OTHER;
}

void bench_cf_frame(const char *data, size_t len, bench_cf_cb cb, void *ud) {
  const char *p = data, *end = data + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    size_t n = (size_t)(line_end - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n > 0) {
      bench_cf_event ev = classify(p, n);
      if (cb(ev, p, n, ev == BENCH_CF_PUBLICATION ? publication_time(p, n) : 0, ud)) return;
    }
    p = line_end + 1;
  }
}

static size_t fitted(int n, size_t cap) { return n > 0 && (size_t)n < cap ? (size_t)n : 0; }

size_t bench_cf_connect_command(char *out, size_t cap, const char *token) {
  if (token)
    return fitted(
        snprintf(out, cap, "{\"id\":%d,\"connect\":{\"token\":\"%s\"}}", BENCH_CF_CONNECT_ID, token), cap);
  return fitted(snprintf(out, cap, "{\"id\":%d,\"connect\":{}}", BENCH_CF_CONNECT_ID), cap);
}

size_t bench_cf_subscribe_command(char *out, size_t cap, const char *channel) {
  return fitted(
      snprintf(out, cap, "{\"id\":%d,\"subscribe\":{\"channel\":\"%s\"}}", BENCH_CF_SUBSCRIBE_ID, channel),
      cap);
}

size_t bench_cf_publish_request(char *out, size_t cap, const char *host, int port, const char *path,
                                const char *api_key, const char *channel, const char *data_json) {
  char body[1024];
  size_t body_len = fitted(
      snprintf(body, sizeof body, "{\"channel\":\"%s\",\"data\":%s}", channel, data_json), sizeof body);
  if (body_len == 0) return 0;
  char key[256] = "";
  if (api_key && snprintf(key, sizeof key, "X-API-Key: %s\r\n", api_key) >= (int)sizeof key) return 0;
  return fitted(snprintf(out, cap,
                         "POST %s/publish HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n%s"
                         "Content-Length: %zu\r\n\r\n%s",
                         path, host, port, key, body_len, body),
                cap);
}

/* The value of a response header (case-insensitive name), or NULL; head is the header block. */
static const char *header(const char *head, size_t len, const char *name) {
  size_t n = strlen(name);
  for (const char *p = head; p && p < head + len;) {
    const char *eol = memmem(p, (size_t)(head + len - p), "\r\n", 2);
    if ((size_t)(head + len - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      p += n + 1;
      while (*p == ' ') p++;
      return p;
    }
    p = eol ? eol + 2 : NULL;
  }
  return NULL;
}

/* A chunked body's length on the wire and its data's total, or 0 if not complete yet. The
 * data are not gathered: a publish reply is one small chunk, and only "error" is looked for. */
static size_t chunked_length(const char *p, size_t len) {
  size_t off = 0;
  for (;;) {
    const char *eol = memmem(p + off, len - off, "\r\n", 2);
    if (eol == NULL) return 0;
    size_t chunk = strtoul(p + off, NULL, 16);
    off = (size_t)(eol - p) + 2;
    if (len - off < chunk + 2) return 0;
    off += chunk + 2;
    if (chunk == 0) return off;
  }
}

size_t bench_cf_http_responses(const char *buf, size_t len, uint64_t *ok, uint64_t *bad, char *err,
                               size_t err_cap) {
  size_t off = 0;
  while (off < len) {
    const char *p = buf + off;
    const char *head_end = memmem(p, len - off, "\r\n\r\n", 4);
    if (head_end == NULL) break;
    size_t head_len = (size_t)(head_end - p) + 4, body_len;
    int status = 0;
    if (sscanf(p, "HTTP/1.%*d %d", &status) != 1) status = 0;
    const char *cl = header(p, head_len, "content-length");
    const char *te = header(p, head_len, "transfer-encoding");
    if (cl) body_len = strtoul(cl, NULL, 10);
    else if (te && strncasecmp(te, "chunked", 7) == 0) {
      body_len = chunked_length(head_end + 4, len - off - head_len);
      if (body_len == 0) break;
    } else body_len = 0;
    if (len - off - head_len < body_len) break;
    const char *body = head_end + 4;
    if (status == 200 && memmem(body, body_len, "\"error\"", 7) == NULL) (*ok)++;
    else {
      if (*bad == 0 && err_cap > 0) {
        size_t n = body_len < err_cap - 1 ? body_len : err_cap - 1;
        memcpy(err, body, n);
        err[n] = '\0';
      }
      (*bad)++;
    }
    off += head_len + body_len;
  }
  return off;
}
