#include <ctype.h>
#include <limits.h>
#include <strings.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "http.h"

static char *bytes_take(chat_bytes *b) {
  char *d = b->data ? b->data : strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

struct chat_http_parser {
  http_parser hp;
  http_parser_settings settings;
  chat_http_limits limits;
  chat_bytes url, field, value, body;
  int last_was_value;
  size_t header_bytes; /* request line + headers so far */
  int in_headers;
  int busy;
  chat_http_header *headers;
  size_t nheaders, cap_headers;
  chat_http_request *done; /* a completed request not yet taken */
  int status;
  const char *reason;
};

static int fail(chat_http_parser *p, int status, const char *reason) {
  p->status = status;
  p->reason = reason;
  return -1;
}

static int flush_header(chat_http_parser *p) {
  if (p->field.len == 0) return 0;
  if (p->nheaders == p->cap_headers) {
    size_t cap = p->cap_headers ? p->cap_headers * 2 : 16;
    chat_http_header *h = realloc(p->headers, cap * sizeof *h);
    if (h == NULL) return fail(p, 500, "out of memory");
    p->headers = h;
    p->cap_headers = cap;
  }
  for (size_t i = 0; i < p->field.len; i++) p->field.data[i] = (char)tolower((unsigned char)p->field.data[i]);
  p->headers[p->nheaders].name = bytes_take(&p->field);
  p->headers[p->nheaders].value = bytes_take(&p->value);
  p->nheaders++;
  return 0;
}

static chat_http_parser *of(http_parser *hp) { return hp->data; }

static int count_header_bytes(chat_http_parser *p, size_t n) {
  p->header_bytes += n;
  if (p->header_bytes > p->limits.max_header_bytes) return fail(p, 431, "request header fields too large");
  return 0;
}

static int on_message_begin(http_parser *hp) {
  chat_http_parser *p = of(hp);
  p->busy = 1;
  p->in_headers = 1;
  p->header_bytes = 0;
  return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n) {
  chat_http_parser *p = of(hp);
  if (count_header_bytes(p, n) < 0) return -1;
  return chat_bytes_put(&p->url, at, n) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n) {
  chat_http_parser *p = of(hp);
  if (count_header_bytes(p, n) < 0) return -1;
  if (p->last_was_value && flush_header(p) < 0) return -1;
  p->last_was_value = 0;
  return chat_bytes_put(&p->field, at, n) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n) {
  chat_http_parser *p = of(hp);
  if (count_header_bytes(p, n) < 0) return -1;
  p->last_was_value = 1;
  return chat_bytes_put(&p->value, at, n) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_headers_complete(http_parser *hp) {
  chat_http_parser *p = of(hp);
  if (p->last_was_value && flush_header(p) < 0) return -1;
  p->last_was_value = 0;
  p->in_headers = 0;
  /* Refuse a declared oversized body before reading any of it. */
  if (!(hp->flags & F_CHUNKED) && hp->content_length != ULLONG_MAX &&
      hp->content_length > p->limits.max_body_bytes)
    return fail(p, 413, "request body too large");
  return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n) {
  chat_http_parser *p = of(hp);
  if (p->body.len + n > p->limits.max_body_bytes) return fail(p, 413, "request body too large");
  return chat_bytes_put(&p->body, at, n) < 0 ? fail(p, 500, "out of memory") : 0;
}

static int on_message_complete(http_parser *hp) {
  chat_http_parser *p = of(hp);
  chat_http_request *req = calloc(1, sizeof *req);
  if (req == NULL) return fail(p, 500, "out of memory");
  req->method = http_method_str((enum http_method)hp->method);
  char *url = bytes_take(&p->url);
  char *q = strchr(url, '?');
  req->query = strdup(q ? q + 1 : "");
  if (q) *q = '\0';
  char *hash = strchr(url, '#');
  if (hash) *hash = '\0';
  req->path = url;
  req->headers = p->headers;
  req->header_count = p->nheaders;
  p->headers = NULL;
  p->nheaders = p->cap_headers = 0;
  req->body_len = p->body.len;
  req->body = bytes_take(&p->body);
  req->keep_alive = http_should_keep_alive(hp);
  req->upgrade = hp->upgrade;
  req->http_minor = hp->http_minor;
  p->done = req;
  p->busy = 0;
  /* A chunked body's trailer fields come through on_header_field/value after
   * on_headers_complete, so nothing flushes them; chatd has no use for them. Left in the
   * buffers, they were flushed into the NEXT request's headers on a pipelined connection,
   * letting one request set headers on another (seen while writing fuzz_http, whose
   * pipelined-versus-alone check now catches it). */
  free(p->field.data);
  free(p->value.data);
  p->field = (chat_bytes){0};
  p->value = (chat_bytes){0};
  p->last_was_value = 0;
  /* One request at a time: the server answers it before reading the next. */
  http_parser_pause(hp, 1);
  return 0;
}

chat_http_parser *chat_http_parser_new(const chat_http_limits *limits) {
  chat_http_parser *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->limits = *limits;
  http_parser_init(&p->hp, HTTP_REQUEST);
  p->hp.data = p;
  http_parser_settings_init(&p->settings);
  p->settings.on_message_begin = on_message_begin;
  p->settings.on_url = on_url;
  p->settings.on_header_field = on_header_field;
  p->settings.on_header_value = on_header_value;
  p->settings.on_headers_complete = on_headers_complete;
  p->settings.on_body = on_body;
  p->settings.on_message_complete = on_message_complete;
  return p;
}

static void free_headers(chat_http_header *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(h[i].name);
    free(h[i].value);
  }
  free(h);
}

void chat_http_request_free(chat_http_request *req) {
  if (req == NULL) return;
  free(req->path);
  free(req->query);
  free(req->body);
  free_headers(req->headers, req->header_count);
  free(req);
}

void chat_http_parser_free(chat_http_parser *p) {
  if (p == NULL) return;
  free(p->url.data);
  free(p->field.data);
  free(p->value.data);
  free(p->body.data);
  free_headers(p->headers, p->nheaders);
  chat_http_request_free(p->done);
  free(p);
}

long chat_http_parser_feed(chat_http_parser *p, const char *data, size_t len) {
  if (p->status) return -1;
  if (p->done) return 0; /* the previous request has not been taken yet */
  if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) http_parser_pause(&p->hp, 0);
  size_t n = http_parser_execute(&p->hp, &p->settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
  if (p->status) return -1;
  if (e != HPE_OK && e != HPE_PAUSED) {
    if (e == HPE_HEADER_OVERFLOW) return fail(p, 431, "request header fields too large");
    if (e == HPE_INVALID_METHOD) return fail(p, 501, "unsupported method");
    p->status = 400;
    p->reason = http_errno_description(e);
    return -1;
  }
  if (p->done && p->done->upgrade) {
    /* Bytes after an upgrade request belong to the new protocol: not consumed here. */
    return (long)n;
  }
  return (long)n;
}

chat_http_request *chat_http_parser_take(chat_http_parser *p) {
  chat_http_request *r = p->done;
  p->done = NULL;
  return r;
}

int chat_http_parser_busy(const chat_http_parser *p) { return p->busy; }

int chat_http_parser_error(const chat_http_parser *p, const char **reason) {
  if (reason) *reason = p->reason;
  return p->status;
}

const char *chat_http_request_header(const chat_http_request *req, const char *name) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *chat_http_request_query_param(const chat_http_request *req, const char *name) {
  size_t nlen = strlen(name);
  for (const char *p = req->query; p && *p;) {
    size_t plen = strcspn(p, "&");
    if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
      const char *v = p + nlen + 1;
      size_t vlen = plen - nlen - 1;
      char *out = malloc(vlen + 1), *o = out;
      if (out == NULL) return NULL;
      for (size_t i = 0; i < vlen; i++) {
        if (v[i] == '%' && i + 2 < vlen && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
          *o++ = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
          i += 2;
        } else {
          *o++ = v[i] == '+' ? ' ' : v[i];
        }
      }
      *o = '\0';
      return out;
    }
    p += plen;
    if (*p == '&') p++;
  }
  return NULL;
}

const char *chat_http_status_text(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}
