#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockjs.h"

static int must_escape(uint32_t cp) {
  return cp < 0x20 || cp == '"' || cp == '\\' || (cp >= 0x200c && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x2060 && cp <= 0x206f) || (cp >= 0xfff0 && cp <= 0xffff) ||
         (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x7f && cp <= 0x9f);
}

/* Decodes one UTF-8 sequence at s; returns its length, 1 with U+FFFD when invalid. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
  unsigned char c = s[0];
  size_t n;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf) n = 2, *cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, *cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, *cp = c & 0x07;
  else goto bad;
  if (n > len) goto bad;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) goto bad;
    *cp = (*cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && *cp < 0x800) || (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) || (*cp >= 0xd800 && *cp <= 0xdfff))
    goto bad;
  return n;
bad:
  *cp = 0xfffd;
  return 1;
}

static size_t put_u(char *out, size_t o, uint32_t unit) {
  static const char hex[] = "0123456789abcdef";
  if (out) {
    out[o] = '\\';
    out[o + 1] = 'u';
    out[o + 2] = hex[(unit >> 12) & 15];
    out[o + 3] = hex[(unit >> 8) & 15];
    out[o + 4] = hex[(unit >> 4) & 15];
    out[o + 5] = hex[unit & 15];
  }
  return 6;
}

size_t chat_sockjs_escape(char *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_next(p + i, len - i, &cp);
    if (cp == '"' || cp == '\\') {
      if (out) out[o] = '\\', out[o + 1] = (char)cp;
      o += 2;
    } else if (cp == '\n' || cp == '\r' || cp == '\t') {
      if (out) out[o] = '\\', out[o + 1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
      o += 2;
    } else if (cp >= 0x10000) {
      /* Java strings hold these as surrogate pairs, and Spring escapes each half. */
      uint32_t v = cp - 0x10000;
      o += put_u(out, o, 0xd800 + (v >> 10));
      o += put_u(out, o, 0xdc00 + (v & 0x3ff));
    } else if (must_escape(cp) || (cp == 0xfffd && n == 1 && p[i] != 0xef)) {
      o += put_u(out, o, cp);
    } else {
      if (out) memcpy(out + o, p + i, n);
      o += n;
    }
    i += n;
  }
  return o;
}

size_t chat_sockjs_close_frame(char *out, size_t cap, int code, const char *reason) {
  int n = snprintf(out, cap, "c[%d,\"%s\"]", code, reason);
  return n < 0 ? 0 : (size_t)n;
}

/* ---- parsing client payloads ---- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static int hex4(const char *p, const char *end, uint32_t *v) {
  if (end - p < 4) return -1;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    *v = *v * 16 + (uint32_t)d;
  }
  return 0;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Parses one JSON string at *pp (at its opening quote) into a new buffer. */
static int parse_string(const char **pp, const char *end, char **out, size_t *out_len) {
  const char *p = *pp;
  if (p >= end || *p != '"') return -1;
  p++;
  char *buf = malloc((size_t)(end - p) + 4);
  if (buf == NULL) return -1;
  size_t o = 0;
  while (p < end && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20) goto fail;
    if (c != '\\') {
      buf[o++] = (char)c;
      p++;
      continue;
    }
    if (++p >= end) goto fail;
    switch (*p) {
      case '"': buf[o++] = '"'; break;
      case '\\': buf[o++] = '\\'; break;
      case '/': buf[o++] = '/'; break;
      case 'b': buf[o++] = '\b'; break;
      case 'f': buf[o++] = '\f'; break;
      case 'n': buf[o++] = '\n'; break;
      case 'r': buf[o++] = '\r'; break;
      case 't': buf[o++] = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (hex4(p + 1, end, &cp) < 0) goto fail;
        p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t lo;
          if (end - p >= 7 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, end, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
          } else {
            cp = 0xfffd; /* a lone surrogate cannot be UTF-8 */
          }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          cp = 0xfffd;
        }
        o += put_utf8(buf + o, cp);
        break;
      }
      default: goto fail;
    }
    p++;
  }
  if (p >= end) goto fail;
  *pp = p + 1;
  buf[o] = '\0';
  *out = buf;
  *out_len = o;
  return 0;
fail:
  free(buf);
  return -1;
}

static int push(chat_sockjs_messages *m, char *s, size_t len) {
  char **items = realloc(m->items, (m->count + 1) * sizeof *items);
  if (items == NULL) return -1;
  m->items = items;
  size_t *lens = realloc(m->lens, (m->count + 1) * sizeof *lens);
  if (lens == NULL) return -1;
  m->lens = lens;
  m->items[m->count] = s;
  m->lens[m->count++] = len;
  return 0;
}

int chat_sockjs_parse(const char *payload, size_t len, chat_sockjs_messages *out) {
  memset(out, 0, sizeof *out);
  const char *end = payload + len;
  const char *p = skip_ws(payload, end);
  if (p == end) return -2;
  char *s;
  size_t slen;
  if (*p == '"') {
    if (parse_string(&p, end, &s, &slen) < 0) return -1;
    if (push(out, s, slen) < 0) {
      free(s);
      return -1;
    }
  } else if (*p == '[') {
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
      p++;
    } else {
      for (;;) {
        if (parse_string(&p, end, &s, &slen) < 0 || push(out, s, slen) < 0) goto fail;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
          p = skip_ws(p + 1, end);
          continue;
        }
        if (p < end && *p == ']') {
          p++;
          break;
        }
        goto fail;
      }
    }
  } else {
    return -1;
  }
  if (skip_ws(p, end) != end) goto fail;
  return 0;
fail:
  chat_sockjs_messages_free(out);
  return -1;
}

void chat_sockjs_messages_free(chat_sockjs_messages *m) {
  for (size_t i = 0; i < m->count; i++) free(m->items[i]);
  free(m->items);
  free(m->lens);
  memset(m, 0, sizeof *m);
}

static int valid_id(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '.' || s[i] == '/') return 0;
  return 1;
}

int chat_sockjs_split_path(const char *rest, char *server, size_t scap, char *session, size_t sesscap,
                           char *transport, size_t tcap) {
  const char *a = rest;
  if (*a == '/') a++;
  const char *b = strchr(a, '/');
  if (b == NULL) return -1;
  const char *c = strchr(b + 1, '/');
  if (c == NULL || strchr(c + 1, '/') != NULL) return -1;
  size_t sl = (size_t)(b - a), il = (size_t)(c - b - 1), tl = strlen(c + 1);
  if (!valid_id(a, sl) || !valid_id(b + 1, il) || tl == 0 || sl >= scap || il >= sesscap || tl >= tcap) return -1;
  memcpy(server, a, sl);
  server[sl] = '\0';
  memcpy(session, b + 1, il);
  session[il] = '\0';
  memcpy(transport, c + 1, tl);
  transport[tl] = '\0';
  return 0;
}
