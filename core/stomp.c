#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "stomp.h"

struct chat_stomp_parser {
  chat_stomp_limits limits;
  chat_stomp_version version;
  char *buf; /* bytes of an incomplete frame; NULL when none, so idle sessions hold nothing */
  size_t len, cap;
  /* Where to resume after an incomplete frame, so a frame trickling in byte by byte is
   * not rescanned from its start on every read. */
  size_t need;      /* do not retry before this many bytes are buffered */
  size_t nul_from;  /* body bytes already searched for the NUL terminator */
  int failed;
};

chat_stomp_parser *chat_stomp_parser_new(const chat_stomp_limits *limits) {
  chat_stomp_parser *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->limits = *limits;
  p->version = CHAT_STOMP_V12;
  return p;
}

void chat_stomp_parser_free(chat_stomp_parser *p) {
  if (p == NULL) return;
  free(p->buf);
  free(p);
}

void chat_stomp_parser_set_version(chat_stomp_parser *p, chat_stomp_version v) { p->version = v; }

size_t chat_stomp_parser_buffered(const chat_stomp_parser *p) { return p->len; }

const char *chat_stomp_frame_header(const chat_stomp_frame *f, const char *name) {
  for (size_t i = 0; i < f->header_count; i++)
    if (strcmp(f->headers[i].name, name) == 0) return f->headers[i].value;
  return NULL;
}

static int no_escaping(chat_stomp_version v, const char *command) {
  return v == CHAT_STOMP_V10 || strcmp(command, "CONNECT") == 0 || strcmp(command, "CONNECTED") == 0;
}

/* Copies [s, s+n) to out, undoing STOMP header escapes; returns the length or -1. */
static long unescape(char *out, const char *s, size_t n, chat_stomp_version v, int raw) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (raw || s[i] != '\\') {
      out[o++] = s[i];
      continue;
    }
    if (++i == n) return -1;
    switch (s[i]) {
      case 'n': out[o++] = '\n'; break;
      case 'c': out[o++] = ':'; break;
      case '\\': out[o++] = '\\'; break;
      case 'r':
        if (v < CHAT_STOMP_V12) return -1;
        out[o++] = '\r';
        break;
      default: return -1;
    }
  }
  out[o] = '\0';
  return (long)o;
}

enum { PARSE_ERROR = -1, PARSE_MORE = 0, PARSE_FRAME = 1, PARSE_HEARTBEAT = 2 };

/* Tries to take one frame or one heart-beat EOL from [s, s+n). */
static int parse_one(chat_stomp_parser *p, const char *s, size_t n, size_t *used,
                     chat_stomp_frame *f, char **scratch, const char **err) {
  if (s[0] == '\n') {
    *used = 1;
    return PARSE_HEARTBEAT;
  }
  if (s[0] == '\r') {
    if (n < 2) return PARSE_MORE;
    if (s[1] != '\n') {
      *err = "malformed frame: CR not followed by LF";
      return PARSE_ERROR;
    }
    *used = 2;
    return PARSE_HEARTBEAT;
  }
  size_t max = p->limits.max_frame_bytes;
  const char *limit = s + (n < max ? n : max);

  /* The head: command line, header lines, blank line. */
  const char *eol = memchr(s, '\n', (size_t)(limit - s));
  if (eol == NULL) goto more;
  const char *line_end = eol > s && eol[-1] == '\r' ? eol - 1 : eol;
  size_t cmd_len = (size_t)(line_end - s);
  if (cmd_len == 0 || cmd_len > 16) {
    *err = "malformed frame: missing or overlong command";
    return PARSE_ERROR;
  }
  for (size_t i = 0; i < cmd_len; i++) {
    if (!isupper((unsigned char)s[i])) {
      *err = "malformed frame: the command must be upper-case letters";
      return PARSE_ERROR;
    }
  }
  const char *head_end = NULL; /* the LF of the blank line */
  const char *blank = NULL;    /* where the blank line starts: header lines end here */
  size_t nheaders = 0;
  for (const char *q = eol + 1;;) {
    if (q >= limit) goto more;
    if (*q == '\n' || (*q == '\r' && q + 1 < limit && q[1] == '\n')) {
      blank = q;
      head_end = *q == '\n' ? q : q + 1;
      break;
    }
    const char *e = memchr(q, '\n', (size_t)(limit - q));
    if (e == NULL) goto more;
    if (++nheaders > p->limits.max_headers) {
      *err = "too many headers in frame";
      return PARSE_ERROR;
    }
    q = e + 1;
  }

  /* Decode the command and headers into one scratch block the frame points into. */
  size_t head_len = (size_t)(head_end - s);
  char *mem = malloc(head_len + 2 + nheaders * sizeof(chat_stomp_header));
  if (mem == NULL) {
    *err = "out of memory";
    return PARSE_ERROR;
  }
  *scratch = mem;
  f->headers = (chat_stomp_header *)mem;
  char *text = mem + nheaders * sizeof(chat_stomp_header);
  memcpy(text, s, cmd_len);
  text[cmd_len] = '\0';
  f->command = text;
  text += cmd_len + 1;
  int raw = no_escaping(p->version, f->command);
  f->header_count = 0;
  /* Decode exactly the lines counted above. Stopping at the first line that starts with
   * CR instead (as this loop once did) dropped every header after a line like "\rx:y"
   * without an error, content-length and receipt included (seen while writing fuzz_stomp). */
  for (const char *q = eol + 1; q < blank;) {
    const char *e = memchr(q, '\n', (size_t)(head_end - q));
    const char *le = e > q && e[-1] == '\r' ? e - 1 : e;
    const char *colon = memchr(q, ':', (size_t)(le - q));
    if (colon == NULL || colon == q) {
      *err = "malformed header: expected name:value";
      return PARSE_ERROR;
    }
    chat_stomp_header *h = &f->headers[f->header_count++];
    long nl = unescape(text, q, (size_t)(colon - q), p->version, raw);
    if (nl < 0) goto bad_escape;
    h->name = text;
    text += nl + 1;
    long vl = unescape(text, colon + 1, (size_t)(le - colon - 1), p->version, raw);
    if (vl < 0) goto bad_escape;
    h->value = text;
    text += vl + 1;
    q = e + 1;
  }

  /* The body: content-length bytes then NUL, or everything up to the first NUL. */
  size_t body_at = (size_t)(head_end - s) + 1;
  const char *cl = chat_stomp_frame_header(f, "content-length");
  if (cl != NULL) {
    char *end;
    if (*cl == '\0' || strspn(cl, "0123456789") != strlen(cl)) {
      *err = "malformed content-length header";
      return PARSE_ERROR;
    }
    unsigned long long body_len = strtoull(cl, &end, 10);
    if (body_len >= max || body_at + body_len + 1 > max) {
      *err = "frame too large";
      return PARSE_ERROR;
    }
    if (body_at + body_len + 1 > n) {
      p->need = body_at + (size_t)body_len + 1;
      return PARSE_MORE;
    }
    if (s[body_at + body_len] != '\0') {
      *err = "frame body longer than its content-length (no NUL after it)";
      return PARSE_ERROR;
    }
    f->body_len = (size_t)body_len;
  } else {
    size_t from = body_at + p->nul_from;
    const char *nul = from < (size_t)(limit - s) ? memchr(s + from, '\0', (size_t)(limit - s) - from) : NULL;
    if (nul == NULL) {
      if ((size_t)(limit - s) > body_at) p->nul_from = (size_t)(limit - s) - body_at;
      goto more;
    }
    f->body_len = (size_t)(nul - (s + body_at));
  }
  f->body = s + body_at;
  *used = body_at + f->body_len + 1;
  return PARSE_FRAME;

bad_escape:
  *err = "undefined escape sequence in header";
  return PARSE_ERROR;
more:
  if (n >= max) {
    *err = "frame too large";
    return PARSE_ERROR;
  }
  return PARSE_MORE;
}

/* Parses as many frames as [s, s+n) holds; returns bytes consumed or -1. */
static long parse_all(chat_stomp_parser *p, const char *s, size_t n, chat_stomp_frame_cb cb,
                      void *ud, const char **err) {
  size_t off = 0;
  while (off < n) {
    if (p->need > n - off) break;
    chat_stomp_frame f = {0};
    char *scratch = NULL;
    size_t used = 0;
    int rc = parse_one(p, s + off, n - off, &used, &f, &scratch, err);
    if (rc == PARSE_ERROR) {
      free(scratch);
      return -1;
    }
    if (rc == PARSE_MORE) {
      free(scratch);
      break;
    }
    p->need = 0;
    p->nul_from = 0;
    int stop = cb(rc == PARSE_FRAME ? &f : NULL, ud);
    free(scratch);
    off += used;
    if (stop) {
      p->failed = 1;
      return (long)off;
    }
  }
  return (long)off;
}

int chat_stomp_parser_feed(chat_stomp_parser *p, const char *data, size_t len,
                           chat_stomp_frame_cb cb, void *ud, const char **err) {
  if (p->failed) {
    *err = "session closed";
    return -1;
  }
  const char *s = data;
  size_t n = len;
  if (p->len > 0) {
    /* Complete the buffered frame first. */
    if (p->len + len > p->cap) {
      size_t cap = p->cap ? p->cap : 512;
      while (cap < p->len + len) cap *= 2;
      char *b = realloc(p->buf, cap);
      if (b == NULL) {
        *err = "out of memory";
        return -1;
      }
      p->buf = b;
      p->cap = cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    s = p->buf;
    n = p->len;
  }
  long used = parse_all(p, s, n, cb, ud, err);
  if (used < 0) {
    p->failed = 1;
    return -1;
  }
  size_t rest = n - (size_t)used;
  if (p->failed) return 0;
  if (rest == 0) {
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = 0;
    return 0;
  }
  if (s == p->buf) {
    memmove(p->buf, p->buf + used, rest);
    p->len = rest;
  } else {
    p->buf = malloc(rest < 512 ? 512 : rest);
    if (p->buf == NULL) {
      *err = "out of memory";
      return -1;
    }
    p->cap = rest < 512 ? 512 : rest;
    memcpy(p->buf, s + used, rest);
    p->len = rest;
  }
  /* `need` and `nul_from` are relative to the pending frame, now at offset 0. */
  return 0;
}

/* Writes `v` escaped for a STOMP header; returns the length (counting past cap). */
static size_t put_escaped(char *out, size_t cap, size_t n, const char *v, int raw,
                          chat_stomp_version version) {
  for (; *v; v++) {
    const char *rep = NULL;
    if (!raw) {
      if (*v == '\\') rep = "\\\\";
      else if (*v == '\n') rep = "\\n";
      else if (*v == ':') rep = "\\c";
      else if (*v == '\r' && version >= CHAT_STOMP_V12) rep = "\\r";
    }
    if (rep) {
      if (n < cap) out[n] = rep[0];
      if (n + 1 < cap) out[n + 1] = rep[1];
      n += 2;
    } else {
      if (n < cap) out[n] = *v;
      n++;
    }
  }
  return n;
}

size_t chat_stomp_encode_head(char *out, size_t cap, chat_stomp_version v, const char *command,
                              const char *const *headers) {
  int raw = no_escaping(v, command);
  size_t n = 0;
  for (const char *c = command; *c; c++, n++)
    if (n < cap) out[n] = *c;
  if (n < cap) out[n] = '\n';
  n++;
  for (const char *const *h = headers; h && h[0]; h += 2) {
    n = put_escaped(out, cap, n, h[0], raw, v);
    if (n < cap) out[n] = ':';
    n++;
    n = put_escaped(out, cap, n, h[1] ? h[1] : "", raw, v);
    if (n < cap) out[n] = '\n';
    n++;
  }
  if (n < cap) out[n] = '\n';
  n++;
  return n;
}

char *chat_stomp_encode_frame(chat_stomp_version v, const char *command, const char *const *headers,
                              const char *body, size_t body_len, size_t *len) {
  size_t head = chat_stomp_encode_head(NULL, 0, v, command, headers);
  char *out = malloc(head + body_len + 1);
  if (out == NULL) return NULL;
  chat_stomp_encode_head(out, head, v, command, headers);
  if (body_len) memcpy(out + head, body, body_len);
  out[head + body_len] = '\0';
  *len = head + body_len + 1;
  return out;
}
