#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static chat_log_level min_level = CHAT_LOG_INFO;
static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static chat_log_format format = CHAT_LOG_JSON;

void chat_log_set_level(chat_log_level level) { min_level = level; }

int chat_log_set_format(const char *name) {
  if (name == NULL || strcasecmp(name, "auto") == 0) format = isatty(STDERR_FILENO) ? CHAT_LOG_TEXT : CHAT_LOG_JSON;
  else if (strcasecmp(name, "json") == 0) format = CHAT_LOG_JSON;
  else if (strcasecmp(name, "text") == 0) format = CHAT_LOG_TEXT;
  else return -1;
  return 0;
}

chat_log_level chat_log_parse_level(const char *name, chat_log_level fallback) {
  if (name == NULL) return fallback;
  for (int i = 0; i < 4; i++)
    if (strcasecmp(name, level_names[i]) == 0) return (chat_log_level)i;
  if (strcasecmp(name, "warning") == 0) return CHAT_LOG_WARN;
  return fallback;
}

size_t chat_json_escape(char *out, size_t cap, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
#define PUT(c)                  \
  do {                          \
    if (n < cap) out[n] = (c); \
    n++;                        \
  } while (0)
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': PUT('\\'); PUT('"'); break;
      case '\\': PUT('\\'); PUT('\\'); break;
      case '\n': PUT('\\'); PUT('n'); break;
      case '\r': PUT('\\'); PUT('r'); break;
      case '\t': PUT('\\'); PUT('t'); break;
      default:
        if (c < 0x20) {
          PUT('\\'); PUT('u'); PUT('0'); PUT('0'); PUT(hex[c >> 4]); PUT(hex[c & 15]);
        } else {
          PUT((char)c);
        }
    }
  }
#undef PUT
  return n;
}

void chat_log(chat_log_level level, const char *logger, const char *fmt, ...) {
  if (level < min_level) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  size_t mlen = (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;

  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char when[40];
  size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + w, sizeof when - w, ".%03dZ", (int)(tv.tv_usec / 1000));

  if (format == CHAT_LOG_TEXT) {
    fprintf(stderr, "%s %-5s %s: %.*s\n", when, level_names[level], logger, (int)mlen, msg);
    return;
  }
  /* Escaping can grow a message six-fold; the line is cut rather than allocated. */
  char esc[sizeof msg * 2];
  size_t e = chat_json_escape(esc, sizeof esc, msg, mlen);
  if (e > sizeof esc) e = sizeof esc;
  fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"logger\":\"%s\",\"message\":\"%.*s\"}\n",
          when, level_names[level], logger, (int)e, esc);
}
