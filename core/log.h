/* Structured logging: one JSON object per line on stderr, so a cluster's log stack
 * can index level and message without a parser of its own; plain text for a person at a
 * terminal (CHAT_LOG_FORMAT=auto|json|text). */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

typedef enum {
  CHAT_LOG_DEBUG = 0,
  CHAT_LOG_INFO = 1,
  CHAT_LOG_WARN = 2,
  CHAT_LOG_ERROR = 3
} chat_log_level;

/* Lines below this level are dropped (CHAT_LOG_LEVEL=debug|info|warn|error). */
void chat_log_set_level(chat_log_level level);
chat_log_level chat_log_parse_level(const char *name, chat_log_level fallback);

typedef enum { CHAT_LOG_JSON = 0, CHAT_LOG_TEXT = 1 } chat_log_format;

/* "json", "text", or "auto" (text when stderr is a terminal). Returns -1 for another name. */
int chat_log_set_format(const char *name);

/* `logger` names the area ("http", "pg", "lua" ...); the message is printf-formatted. */
void chat_log(chat_log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define chat_log_debug(logger, ...) chat_log(CHAT_LOG_DEBUG, logger, __VA_ARGS__)
#define chat_log_info(logger, ...) chat_log(CHAT_LOG_INFO, logger, __VA_ARGS__)
#define chat_log_warn(logger, ...) chat_log(CHAT_LOG_WARN, logger, __VA_ARGS__)
#define chat_log_error(logger, ...) chat_log(CHAT_LOG_ERROR, logger, __VA_ARGS__)

/* Appends `s` to `out` as the inside of a JSON string (no quotes). Returns bytes written,
 * or the bytes needed if `cap` is too small (like snprintf). Shared with the HTTP error path. */
size_t chat_json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
