/* chatd's HTTP/1.1 request parser (RFC 9112), written for strictness: a request is either
 * read exactly one way or refused, because a parser that repairs what it is sent frames a
 * message differently from the proxy in front of it, and the difference is where request
 * smuggling lives. It replaced Debian's http-parser, which is unmaintained and lenient
 * (HTTP/0.9 lines, "Host : x", "HTPT/1.1" and chunk data without its CRLF all passed).
 *
 * The rules, each from RFC 9112 unless said otherwise:
 * - request-line = method SP request-target SP HTTP-version CRLF, one SP exactly (§3). The
 *   method is a token; the ones http-parser knew are served (the Lua router answers 404 or
 *   405), any other token is 501 (RFC 9110 §9.1). The target is origin-form, absolute-form
 *   (http or https: its path and query are used, §3.2.2), "*" for OPTIONS only, or
 *   authority-form for CONNECT only; chatd is no proxy, so a well-formed CONNECT is 501.
 *   Control bytes, DEL and bytes >= 0x80 in the target are 400. A fragment ("#...") is
 *   dropped, as clients never send one and it frames nothing.
 * - HTTP-version is exactly "HTTP/" DIGIT "." DIGIT (§2.3): 1.0 and 1.1 are served, any
 *   other well-formed version is 505, anything else (a missing version, that is an HTTP/0.9
 *   simple request, included) is 400.
 * - Lines end in CRLF. A bare LF is refused (400) although §2.2 lets a recipient accept it:
 *   a proxy that does not treat LF as a line end would read "X: a\nTransfer-Encoding: ..."
 *   as one field, so accepting it is a desync. A CR not followed by LF is 400 (§2.2).
 *   Empty lines before a request line are skipped (§2.2 SHOULD); they count towards the
 *   header limit, so a stream of them ends in 431 rather than going on forever.
 * - field-line = field-name ":" OWS field-value OWS (§5). The name is a token: whitespace
 *   before the colon (§5.1 MUST 400), an empty name or any other byte is 400. A line that
 *   starts with SP or HTAB (obs-fold, §5.2, or whitespace after the request line, §2.2) is
 *   400. Values hold VCHAR, obs-text, SP and HTAB; NUL, other control bytes and DEL are 400.
 *   Names are lower-cased, values trimmed of OWS, repeated fields kept in order.
 * - Host: an HTTP/1.1 request has exactly one, with a valid uri-host [":" port]; a repeated
 *   or invalid one is 400 in any version (§3.2).
 * - Content-Length is 1*DIGIT, once (§6.3): a second field, even with the same value, and
 *   comma lists are 400 (the RFC lets a recipient accept identical values; refusing is
 *   simpler and safer); a number past 64 bits is 400; past max_body_bytes, 413 before the
 *   body is read.
 * - Transfer-Encoding must be exactly one "chunked" (case-insensitive). For any other coding
 *   RFC 9112 §6.1 says 501, but every coding chatd cannot decode leaves the body's length
 *   unknown, and the TE.TE smuggling shapes ("xchunked", "chunked, identity", two fields)
 *   live there, so it is 400. Transfer-Encoding in an HTTP/1.0 request (§6.1) and
 *   Transfer-Encoding with Content-Length (§6.1 lets a server reject it) are 400.
 * - A chunked body (§7.1): chunk-size is 1*HEXDIG, at most 16 digits (64 bits; longer is
 *   400, leading zeros included, so padding cannot stretch a line); chunk extensions are
 *   checked against the grammar (token or quoted-string values, BWS around ";" and "=")
 *   and ignored, at most CHUNK_LINE_MAX bytes a line and CHUNK_EXT_MAX a body (the
 *   chunk-extension floods of CVE-2023-39326). Chunk data must be followed by CRLF exactly.
 *   Trailer fields follow the field rules and are dropped, never merged into the headers
 *   (§7.1.2); the trailer section has its own max_header_bytes (431).
 * - The header section (request line, fields, line ends) over max_header_bytes is 431,
 *   counted across reads, except when the request line alone is over it: that is 414,
 *   which §3 requires for a target longer than the server wishes to parse. A body over
 *   max_body_bytes is 413.
 * - Connection: an HTTP/1.1 connection persists unless "close", HTTP/1.0 only with
 *   "keep-alive" (§9.3). upgrade is set by an "upgrade" token with an Upgrade field, as
 *   http-parser did (RFC 9110 §7.8 needs both).
 * - Anything that cannot start a request line (binary, a TLS ClientHello, NUL) is 400 at
 *   its first byte, and a line's bytes are checked as they arrive, so garbage is refused
 *   without waiting for a line end.
 * The server answers every error and closes the connection (http_server.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "http.h"

enum {
  CHUNK_LINE_MAX = 4096,   /* one chunk-size line with its extensions and CRLF */
  CHUNK_EXT_MAX = 4096,    /* the chunk extensions of one body, together */
  CHUNK_SIZE_DIGITS = 16,  /* 64 bits of hexadecimal */
  STRINGS_INITIAL = 512,   /* enough for a typical request's path and headers */
};

typedef enum {
  S_START,      /* before a request line: empty lines are skipped */
  S_START_LF,   /* an empty line's CR was read; its LF must follow */
  S_LINE,       /* inside a line of kind p->kind */
  S_LINE_LF,    /* that line's CR was read */
  S_BODY,       /* Content-Length bytes */
  S_CHUNK_DATA,
  S_CHUNK_CR,   /* chunk data read; CRLF must follow */
  S_CHUNK_LF,
  S_FAILED
} parse_state;

typedef enum { L_REQUEST, L_FIELD, L_CHUNK_SIZE, L_TRAILER } line_kind;

struct chat_http_parser {
  chat_http_limits limits;
  parse_state state;
  line_kind kind;
  size_t count;          /* bytes of the current section (header, trailer or chunk line) */
  chat_bytes line;       /* a line split across reads; a whole one is read in place */
  chat_bytes strings;    /* "path\0query\0" then "name\0value\0" per field */
  size_t nfields;
  const char *method;
  int http_minor;
  chat_http_request *req; /* built at the end of the header section, waits for its body */
  int chunked;
  uint64_t remaining;    /* body bytes still to come: Content-Length, or the chunk's */
  size_t ext_bytes;
  chat_bytes body;
  int busy;
  chat_http_request *done; /* a completed request not yet taken */
  int status;
  const char *reason;
};

static char empty_body[1];

static int fail(chat_http_parser *p, int status, const char *reason) {
  p->state = S_FAILED;
  p->status = status;
  p->reason = reason;
  return -1;
}

/* ---- character classes (RFC 9110 §5.6.2, §5.5, RFC 3986 §2) ----
 * One table lookup per byte: the line scan is the parser's hot loop. */

enum {
  C_TCHAR = 1, /* token characters */
  C_FIELD = 2, /* what a field line (or chunk line) may hold: HTAB, SP, VCHAR, obs-text */
  C_REQ = 4,   /* what a request line may hold: SP and VCHAR */
  C_HOST = 8,  /* unreserved and sub-delims: a reg-name's characters besides pct-encoded */
};

static const unsigned char CLASS[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
     6, 15,  6,  7, 15,  7, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6, 14,  6, 14,  6,  6,  /* 0x30 */
     6, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  6,  6,  7, 15,  /* 0x50 */
     7, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0,  /* 0x70 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
};

static int is_alpha(unsigned c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static int is_tchar(unsigned char c) { return CLASS[c] & C_TCHAR; }
static int is_host_char(unsigned char c) { return CLASS[c] & C_HOST; }
static int is_ws(unsigned c) { return c == ' ' || c == '\t'; }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- the request line ---- */

/* http-parser's methods (the common ones first), so a well-formed request is routed as
 * before. */
static const char *const METHODS[] = {
    "GET",    "POST",  "HEAD",     "DELETE",    "PUT",        "CONNECT",  "OPTIONS",  "TRACE",
    "COPY",   "LOCK",  "MKCOL",    "MOVE",      "PROPFIND",   "PROPPATCH", "SEARCH",  "UNLOCK",
    "BIND",   "REBIND", "UNBIND",  "ACL",       "REPORT",     "MKACTIVITY", "CHECKOUT", "MERGE",
    "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE",   "MKCALENDAR", "LINK",
    "UNLINK", "SOURCE",
};

static const char *known_method(const char *m, size_t n) {
  for (size_t i = 0; i < sizeof METHODS / sizeof *METHODS; i++)
    if (METHODS[i][0] == m[0] && strlen(METHODS[i]) == n && memcmp(METHODS[i], m, n) == 0) return METHODS[i];
  return NULL;
}

/* uri-host [":" port] (RFC 9110 §4.2.3, RFC 3986 §3.2.2): an IP-literal in brackets or a
 * reg-name; no userinfo ("@" is refused, RFC 9110 §4.2.4). need_port: authority-form. */
static int valid_authority(const char *s, size_t n, int need_port) {
  size_t i = 0;
  if (n > 0 && s[0] == '[') {
    for (i = 1; i < n && s[i] != ']'; i++)
      if (!(is_host_char((unsigned char)s[i]) || s[i] == ':')) return 0;
    if (i == n || i == 1) return 0;
    i++;
  } else {
    while (i < n && s[i] != ':') {
      if (s[i] == '%') {
        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return 0;
        i += 3;
      } else if (is_host_char((unsigned char)s[i])) {
        i++;
      } else {
        return 0;
      }
    }
  }
  size_t host_end = i;
  if (i == n) return !need_port;
  if (s[i] != ':') return 0;
  for (i++; i < n; i++)
    if (!is_digit((unsigned char)s[i])) return 0;
  return !need_port || (host_end > 0 && n > host_end + 1);
}

static int put_string(chat_http_parser *p, const char *s, size_t n) {
  if (p->strings.data == NULL) {
    p->strings.data = malloc(STRINGS_INITIAL);
    if (p->strings.data == NULL) return -1;
    p->strings.cap = STRINGS_INITIAL;
  }
  /* chat_bytes_put NUL-terminates, which ends each string. */
  if (chat_bytes_put(&p->strings, s, n) < 0) return -1;
  p->strings.len++;
  return 0;
}

/* Keeps the target's path and query (without a fragment). */
static int put_target(chat_http_parser *p, const char *t, size_t n) {
  const char *hash = memchr(t, '#', n);
  if (hash) n = (size_t)(hash - t);
  const char *q = memchr(t, '?', n);
  size_t plen = q ? (size_t)(q - t) : n;
  if (plen == 0) {
    /* An absolute-form target with an empty path means "/" (§3.2.2). */
    if (put_string(p, "/", 1) < 0) return -1;
  } else if (put_string(p, t, plen) < 0) {
    return -1;
  }
  return put_string(p, q ? q + 1 : "", q ? n - plen - 1 : 0);
}

static int parse_request_line(chat_http_parser *p, const char *line, size_t n) {
  const char *sp1 = memchr(line, ' ', n);
  if (sp1 == NULL) return fail(p, 400, "malformed request line");
  size_t mlen = (size_t)(sp1 - line);
  for (size_t i = 0; i < mlen; i++)
    if (!is_tchar((unsigned char)line[i])) return fail(p, 400, "invalid method");
  if (mlen == 0) return fail(p, 400, "malformed request line");
  const char *target = sp1 + 1;
  size_t rest = n - mlen - 1;
  const char *sp2 = memchr(target, ' ', rest);
  if (sp2 == NULL) return fail(p, 400, "no HTTP version (HTTP/0.9 is not supported)");
  size_t tlen = (size_t)(sp2 - target);
  if (tlen == 0) return fail(p, 400, "malformed request line");
  const char *v = sp2 + 1;
  size_t vlen = rest - tlen - 1;
  if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit((unsigned char)v[5]) || v[6] != '.' ||
      !is_digit((unsigned char)v[7]))
    return fail(p, 400, "malformed HTTP version");
  if (v[5] != '1' || v[7] > '1') return fail(p, 505, "HTTP version not supported");
  p->http_minor = v[7] - '0';

  const char *method = known_method(line, mlen);
  int is_connect = method && strcmp(method, "CONNECT") == 0;
  if (is_connect) {
    if (!valid_authority(target, tlen, 1)) return fail(p, 400, "invalid request target");
    return fail(p, 501, "CONNECT is not supported");
  }
  if (target[0] == '/') {
    /* origin-form */
  } else if (tlen == 1 && target[0] == '*') {
    if (method == NULL || strcmp(method, "OPTIONS") != 0)
      return fail(p, 400, "the asterisk target is for OPTIONS only");
  } else {
    /* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
    size_t i = 0;
    while (i < tlen && (is_alpha((unsigned char)target[i]) ||
                        (i > 0 && (is_digit((unsigned char)target[i]) || target[i] == '+' ||
                                   target[i] == '-' || target[i] == '.'))))
      i++;
    if (i == 0 || i + 3 > tlen || memcmp(target + i, "://", 3) != 0)
      return fail(p, 400, "invalid request target");
    if (!((i == 4 && strncasecmp(target, "http", 4) == 0) || (i == 5 && strncasecmp(target, "https", 5) == 0)))
      return fail(p, 400, "unsupported URI scheme in the request target");
    const char *auth = target + i + 3;
    size_t alen = 0, left = tlen - i - 3;
    while (alen < left && auth[alen] != '/' && auth[alen] != '?' && auth[alen] != '#') alen++;
    if (alen == 0 || !valid_authority(auth, alen, 0)) return fail(p, 400, "invalid authority in the request target");
    target = auth + alen;
    tlen -= i + 3 + alen;
  }
  if (method == NULL) return fail(p, 501, "method not implemented");
  p->method = method;
  if (put_target(p, target, tlen) < 0) return fail(p, 500, "out of memory");
  return 0;
}

/* ---- fields ---- */

/* Checks a field line; gives its name and its value trimmed of OWS. */
static int parse_field(chat_http_parser *p, const char *line, size_t n, const char **name, size_t *nlen,
                       const char **value, size_t *vlen) {
  if (is_ws((unsigned char)line[0]))
    return fail(p, 400, "obsolete line folding or whitespace before a header field");
  const char *colon = memchr(line, ':', n);
  if (colon == NULL) return fail(p, 400, "header field without a colon");
  if (colon == line) return fail(p, 400, "empty header field name");
  for (const char *c = line; c < colon; c++) {
    if (is_ws((unsigned char)*c)) return fail(p, 400, "whitespace in or after a header field name");
    if (!is_tchar((unsigned char)*c)) return fail(p, 400, "invalid header field name");
  }
  const char *v = colon + 1, *end = line + n;
  while (v < end && is_ws((unsigned char)*v)) v++;
  while (end > v && is_ws((unsigned char)end[-1])) end--;
  *name = line;
  *nlen = (size_t)(colon - line);
  *value = v;
  *vlen = (size_t)(end - v);
  return 0;
}

/* Stores a field with its name lower-cased (lookups and Lua's req.headers use that). */
static int add_field(chat_http_parser *p, const char *line, size_t n) {
  const char *name, *value;
  size_t nlen, vlen;
  if (parse_field(p, line, n, &name, &nlen, &value, &vlen) < 0) return -1;
  size_t at = p->strings.len;
  if (put_string(p, name, nlen) < 0 || put_string(p, value, vlen) < 0) return fail(p, 500, "out of memory");
  for (char *c = p->strings.data + at; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
  p->nfields++;
  return 0;
}

/* Whether a comma-separated list holds the token (case-insensitive). */
static int has_token(const char *list, const char *token) {
  size_t tlen = strlen(token);
  for (const char *s = list; *s;) {
    while (*s == ',' || is_ws((unsigned char)*s)) s++;
    size_t n = strcspn(s, ",");
    size_t t = n;
    while (t > 0 && is_ws((unsigned char)s[t - 1])) t--;
    if (t == tlen && strncasecmp(s, token, tlen) == 0) return 1;
    s += n;
  }
  return 0;
}

/* The header section is complete: build the request and decide how its body is framed. */
static int end_of_headers(chat_http_parser *p) {
  chat_http_request *req = calloc(1, sizeof *req);
  chat_http_header *h = p->nfields ? malloc(p->nfields * sizeof *h) : NULL;
  if (req == NULL || (p->nfields && h == NULL)) {
    free(req);
    free(h);
    return fail(p, 500, "out of memory");
  }
  req->storage = p->strings.data;
  p->strings = (chat_bytes){0};
  char *s = req->storage;
  req->method = p->method;
  req->http_minor = p->http_minor;
  req->path = s;
  s += strlen(s) + 1;
  req->query = s;
  s += strlen(s) + 1;
  req->headers = h;
  req->header_count = p->nfields;
  req->body = empty_body;
  p->req = req;

  const char *host = NULL, *cl = NULL, *te = NULL;
  int hosts = 0, cls = 0, tes = 0, close = 0, keep_alive = 0, upgrade_token = 0, upgrade_field = 0;
  for (size_t i = 0; i < p->nfields; i++) {
    h[i].name = s;
    s += strlen(s) + 1;
    h[i].value = s;
    s += strlen(s) + 1;
    const char *name = h[i].name, *value = h[i].value;
    switch (name[0]) {
      case 'h':
        if (strcmp(name, "host") == 0) hosts++, host = value;
        break;
      case 'c':
        if (strcmp(name, "content-length") == 0) {
          cls++, cl = value;
        } else if (strcmp(name, "connection") == 0) {
          close |= has_token(value, "close");
          keep_alive |= has_token(value, "keep-alive");
          upgrade_token |= has_token(value, "upgrade");
        }
        break;
      case 't':
        if (strcmp(name, "transfer-encoding") == 0) tes++, te = value;
        break;
      case 'u':
        if (strcmp(name, "upgrade") == 0) upgrade_field = 1;
        break;
      default: break;
    }
  }
  p->nfields = 0;

  if (hosts > 1) return fail(p, 400, "more than one Host header");
  if (hosts == 0 && p->http_minor == 1) return fail(p, 400, "missing Host header");
  /* An empty Host is valid (§3.2: a target without an authority). */
  if (host && !valid_authority(host, strlen(host), 0)) return fail(p, 400, "invalid Host header");
  if (tes) {
    if (p->http_minor == 0) return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (cls) return fail(p, 400, "both Transfer-Encoding and Content-Length");
    if (tes > 1 || strcasecmp(te, "chunked") != 0)
      return fail(p, 400, "unsupported Transfer-Encoding (only chunked is accepted)");
    p->chunked = 1;
  } else if (cls) {
    if (cls > 1) return fail(p, 400, "more than one Content-Length header");
    if (*cl == '\0') return fail(p, 400, "invalid Content-Length");
    uint64_t n = 0;
    for (const char *c = cl; *c; c++) {
      if (!is_digit((unsigned char)*c)) return fail(p, 400, "invalid Content-Length");
      uint64_t d = (uint64_t)(*c - '0');
      if (n > (UINT64_MAX - d) / 10) return fail(p, 400, "Content-Length out of range");
      n = n * 10 + d;
    }
    if (n > p->limits.max_body_bytes) return fail(p, 413, "request body too large");
    p->remaining = n;
  }
  req->keep_alive = !close && (p->http_minor == 1 || keep_alive);
  req->upgrade = upgrade_token && upgrade_field;
  return 0;
}

/* ---- chunked framing ---- */

/* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), the value a
 * token or a quoted-string (§7.1.1). */
static int valid_chunk_ext(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    while (i < n && is_ws((unsigned char)s[i])) i++;
    if (i == n) return 0; /* whitespace that leads to no ";" */
    if (s[i++] != ';') return 0;
    while (i < n && is_ws((unsigned char)s[i])) i++;
    size_t name = i;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    if (i == name) return 0;
    size_t after = i;
    while (i < n && is_ws((unsigned char)s[i])) i++;
    if (i < n && s[i] == '=') {
      i++;
      while (i < n && is_ws((unsigned char)s[i])) i++;
      if (i < n && s[i] == '"') {
        for (i++;; i++) {
          if (i >= n) return 0;
          unsigned char c = (unsigned char)s[i];
          if (c == '"') break;
          if (c == '\\') {
            if (++i >= n) return 0;
            c = (unsigned char)s[i];
            if (!(c == '\t' || (c >= 0x20 && c != 0x7f))) return 0;
          } else if (!(c == '\t' || (c >= 0x20 && c != 0x7f))) {
            return 0;
          }
        }
        i++;
      } else {
        size_t value = i;
        while (i < n && is_tchar((unsigned char)s[i])) i++;
        if (i == value) return 0;
      }
    } else {
      i = after; /* the whitespace belongs to the next ";" (checked above) */
    }
  }
  return 1;
}

static int parse_chunk_line(chat_http_parser *p, const char *line, size_t n) {
  size_t i = 0;
  uint64_t size = 0;
  while (i < n && hexval((unsigned char)line[i]) >= 0) {
    if (i == CHUNK_SIZE_DIGITS) return fail(p, 400, "chunk size out of range");
    size = size * 16 + (uint64_t)hexval((unsigned char)line[i]);
    i++;
  }
  if (i == 0) return fail(p, 400, "invalid chunk size");
  if (i < n) {
    p->ext_bytes += n - i;
    if (!valid_chunk_ext(line + i, n - i)) return fail(p, 400, "invalid chunk extension");
    if (p->ext_bytes > CHUNK_EXT_MAX) return fail(p, 400, "chunk extensions too long");
  }
  if (size > p->limits.max_body_bytes - p->body.len) return fail(p, 413, "request body too large");
  p->remaining = size;
  return 0;
}

/* ---- the state machine ---- */

static void reset_request(chat_http_parser *p) {
  p->state = S_START;
  p->count = 0;
  p->busy = 0;
  p->chunked = 0;
  p->remaining = 0;
  p->ext_bytes = 0;
  p->method = NULL;
  p->nfields = 0;
  /* An idle keep-alive connection keeps no buffer (memory per connection counts). */
  free(p->line.data);
  p->line = (chat_bytes){0};
}

static void complete(chat_http_parser *p) {
  chat_http_request *req = p->req;
  p->req = NULL;
  if (p->body.len > 0) {
    req->body = p->body.data;
    req->body_len = p->body.len;
  } else {
    free(p->body.data);
  }
  p->body = (chat_bytes){0};
  p->done = req;
  reset_request(p);
}

static void start_line(chat_http_parser *p, line_kind kind) {
  p->state = S_LINE;
  p->kind = kind;
  if (kind == L_CHUNK_SIZE || kind == L_TRAILER) p->count = 0;
}

/* What a complete line (without its CRLF) means. */
static int end_line(chat_http_parser *p, const char *line, size_t n) {
  switch (p->kind) {
    case L_REQUEST:
      if (parse_request_line(p, line, n) < 0) return -1;
      start_line(p, L_FIELD);
      return 0;
    case L_FIELD:
      if (n > 0) return add_field(p, line, n);
      if (end_of_headers(p) < 0) return -1;
      if (p->chunked) start_line(p, L_CHUNK_SIZE);
      else if (p->remaining > 0) p->state = S_BODY;
      else complete(p);
      return 0;
    case L_CHUNK_SIZE:
      if (parse_chunk_line(p, line, n) < 0) return -1;
      if (p->remaining == 0) start_line(p, L_TRAILER);
      else p->state = S_CHUNK_DATA;
      return 0;
    case L_TRAILER:
      if (n == 0) {
        complete(p);
        return 0;
      }
      const char *name, *value;
      size_t nlen, vlen;
      return parse_field(p, line, n, &name, &nlen, &value, &vlen);
  }
  return 0;
}

/* Header and trailer sections are limited by max_header_bytes (431, or 414 while still in
 * the request line), a chunk-size line by CHUNK_LINE_MAX (400). */
static size_t line_limit(const chat_http_parser *p) {
  return p->kind == L_CHUNK_SIZE ? CHUNK_LINE_MAX : p->limits.max_header_bytes;
}

static int over_limit(chat_http_parser *p) {
  switch (p->kind) {
    case L_REQUEST: return fail(p, 414, "request line too long");
    case L_CHUNK_SIZE: return fail(p, 400, "chunk size line too long");
    case L_TRAILER: return fail(p, 431, "trailer fields too large");
    default: return fail(p, 431, "request header fields too large");
  }
}

static const char *bad_byte_reason(line_kind kind) {
  switch (kind) {
    case L_REQUEST: return "invalid byte in the request line";
    case L_CHUNK_SIZE: return "invalid byte in a chunk size line";
    default: return "invalid byte in a header field";
  }
}

/* Reads a line's bytes. Every byte is counted against the section's limit before it is
 * looked at, so the same bytes get the same answer however the reads split them. Returns
 * the bytes consumed, -1 on an error. */
static long read_line(chat_http_parser *p, const char *data, size_t len) {
  size_t limit = line_limit(p);
  size_t room = limit > p->count ? limit - p->count : 0;
  size_t stop = len < room ? len : room;
  /* The bytes a line of this kind may hold before its CR: the grammar is checked at the
   * line's end, this refuses control bytes and binary as soon as they arrive. */
  unsigned mask = p->kind == L_REQUEST ? C_REQ : C_FIELD;
  size_t i = 0;
  while (i < stop && (CLASS[(unsigned char)data[i]] & mask)) i++;
  if (i < stop) {
    if (data[i] == '\n') return fail(p, 400, "line ends in a bare LF");
    if (data[i] != '\r') return fail(p, 400, bad_byte_reason(p->kind));
  } else if (i < len) {
    return over_limit(p); /* the byte at `room` is one too many */
  }
  if (i == len) {
    if (chat_bytes_put(&p->line, data, len) < 0) return fail(p, 500, "out of memory");
    p->count += len;
    return (long)len;
  }
  /* data[i] is the CR. */
  if (i + 1 < len) {
    if (i + 1 >= room) return over_limit(p);
    if (data[i + 1] != '\n') return fail(p, 400, "CR not followed by LF");
    p->count += i + 2;
    int rc;
    if (p->line.len == 0) {
      rc = end_line(p, data, i); /* the whole line is in this read: no copy */
    } else {
      if (chat_bytes_put(&p->line, data, i) < 0) return fail(p, 500, "out of memory");
      rc = end_line(p, p->line.data, p->line.len);
      p->line.len = 0;
    }
    return rc < 0 ? -1 : (long)(i + 2);
  }
  if (chat_bytes_put(&p->line, data, i) < 0) return fail(p, 500, "out of memory");
  p->count += i + 1;
  p->state = S_LINE_LF;
  return (long)(i + 1);
}

long chat_http_parser_feed(chat_http_parser *p, const char *data, size_t len) {
  if (p->status) return -1;
  if (p->done) return 0; /* the previous request has not been taken yet */
  size_t i = 0;
  /* One request at a time: parsing stops at its end so the server answers in order, and
   * the bytes after an upgrade request are left for the new protocol. */
  while (i < len && p->done == NULL) {
    unsigned char c = (unsigned char)data[i];
    switch (p->state) {
      case S_START:
        if (c == '\r' || c == '\n') {
          /* An empty line before the request line (§2.2), counted like header bytes. */
          if (++p->count > p->limits.max_header_bytes) return fail(p, 431, "request header fields too large");
          if (c == '\n') return fail(p, 400, "line ends in a bare LF");
          p->state = S_START_LF;
          i++;
        } else if (!is_tchar(c)) {
          return fail(p, 400, "not an HTTP request");
        } else {
          p->busy = 1;
          start_line(p, L_REQUEST);
        }
        break;
      case S_START_LF:
        if (++p->count > p->limits.max_header_bytes) return fail(p, 431, "request header fields too large");
        if (c != '\n') return fail(p, 400, "CR not followed by LF");
        p->state = S_START;
        i++;
        break;
      case S_LINE: {
        long n = read_line(p, data + i, len - i);
        if (n < 0) return -1;
        i += (size_t)n;
        break;
      }
      case S_LINE_LF: {
        if (++p->count > line_limit(p)) return over_limit(p);
        if (c != '\n') return fail(p, 400, "CR not followed by LF");
        i++;
        p->state = S_LINE;
        if (end_line(p, p->line.data, p->line.len) < 0) return -1;
        p->line.len = 0;
        break;
      }
      case S_BODY:
      case S_CHUNK_DATA: {
        size_t n = len - i;
        if (n > p->remaining) n = (size_t)p->remaining;
        if (chat_bytes_put(&p->body, data + i, n) < 0) return fail(p, 500, "out of memory");
        i += n;
        p->remaining -= n;
        if (p->remaining == 0) {
          if (p->state == S_BODY) complete(p);
          else p->state = S_CHUNK_CR;
        }
        break;
      }
      case S_CHUNK_CR:
        if (c != '\r') return fail(p, 400, "chunk data not followed by CRLF");
        p->state = S_CHUNK_LF;
        i++;
        break;
      case S_CHUNK_LF:
        if (c != '\n') return fail(p, 400, "chunk data not followed by CRLF");
        start_line(p, L_CHUNK_SIZE);
        i++;
        break;
      case S_FAILED:
        return -1;
    }
  }
  return (long)i;
}

chat_http_parser *chat_http_parser_new(const chat_http_limits *limits) {
  chat_http_parser *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->limits = *limits;
  p->state = S_START;
  return p;
}

void chat_http_request_free(chat_http_request *req) {
  if (req == NULL) return;
  free(req->storage);
  free(req->headers);
  if (req->body != empty_body) free(req->body);
  free(req);
}

void chat_http_parser_free(chat_http_parser *p) {
  if (p == NULL) return;
  free(p->line.data);
  free(p->strings.data);
  free(p->body.data);
  chat_http_request_free(p->req);
  chat_http_request_free(p->done);
  free(p);
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
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}
