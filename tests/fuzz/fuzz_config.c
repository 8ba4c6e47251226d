/* Fuzzes the configuration (core/config.c), which reads operator-supplied text:
 *   - chat_config_pg_conninfo: lines 1-3 of the input are the datasource URL, user and
 *     password. A JDBC URL or a postgres:// URI is rewritten into a conninfo string, and
 *     that string must be one libpq itself accepts (PQconninfoParse), with the explicit
 *     credentials winning, or the start-up would fail with libpq's message instead of
 *     the one naming the variable;
 *   - chat_config_load with a fake environment made of the input's NAME=value lines.
 * A raw key=value conninfo is passed through unchanged, so libpq judges it, not this. */
#include <libpq-fe.h>
#include <string.h>

#include "config.h"
#include "fuzz_support.h"

enum { MAX_LINES = 64 };

typedef struct lines {
  char *text; /* the input with each '\n' made a NUL */
  const char *line[MAX_LINES];
  size_t count;
} lines;

static lines split_lines(const uint8_t *data, size_t size) {
  lines l = {.text = malloc(size + 1)};
  if (l.text == NULL) abort();
  memcpy(l.text, data, size);
  l.text[size] = '\0';
  char *p = l.text;
  while (l.count < MAX_LINES) {
    l.line[l.count++] = p;
    char *nl = strchr(p, '\n');
    if (nl == NULL) break;
    *nl = '\0';
    p = nl + 1;
  }
  return l;
}

/* The fake environment of the current input: its NAME=value lines. */
static const lines *environment;

static const char *fake_getenv(const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < environment->count; i++) {
    const char *l = environment->line[i];
    if (strncmp(l, name, n) == 0 && l[n] == '=') return l + n + 1;
  }
  return NULL;
}

static const char *option(PQconninfoOption *opts, const char *keyword) {
  for (PQconninfoOption *o = opts; o->keyword; o++)
    if (strcmp(o->keyword, keyword) == 0) return o->val;
  return NULL;
}

static void check_conninfo(const char *url, const char *user, const char *password) {
  char err[256] = "";
  char *conninfo = chat_config_pg_conninfo(url, user, password, err, sizeof err);
  if (conninfo == NULL) {
    FUZZ_ASSERT(err[0] != '\0');
    return;
  }
  int rewritten = strncmp(url, "jdbc:postgresql:", 16) == 0 || strncmp(url, "postgresql:", 11) == 0 ||
                  strncmp(url, "postgres:", 9) == 0;
  if (rewritten) {
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
    if (opts == NULL) fprintf(stderr, "libpq refuses \"%s\": %s\n", conninfo, why ? why : "out of memory");
    FUZZ_ASSERT(opts != NULL);
    const char *host = option(opts, "host");
    FUZZ_ASSERT(host != NULL && host[0] != '\0');
    if (user && *user) FUZZ_ASSERT(option(opts, "user") && strcmp(option(opts, "user"), user) == 0);
    if (password && *password)
      FUZZ_ASSERT(option(opts, "password") && strcmp(option(opts, "password"), password) == 0);
    PQconninfoFree(opts);
    PQfreemem(why);
  }
  free(conninfo);
}

static void check_load(void) {
  chat_config cfg;
  char err[512] = "";
  if (chat_config_load(&cfg, fake_getenv, "/opt/chatd", err, sizeof err) < 0) {
    FUZZ_ASSERT(err[0] != '\0');
    return;
  }
  FUZZ_ASSERT(cfg.port >= 1 && cfg.port <= 65535 && cfg.redis_port >= 1 && cfg.redis_port <= 65535);
  FUZZ_ASSERT(cfg.pg_conninfo && cfg.redis_host && cfg.kafka_bootstrap && cfg.kafka_group);
  FUZZ_ASSERT(cfg.app_name && cfg.bind_address && cfg.log_level);
  FUZZ_ASSERT(cfg.lua_dir && cfg.migrations_dir && cfg.static_dir);
  FUZZ_ASSERT(cfg.pg_pool_size >= 1 && cfg.http_max_header_bytes >= 1024);
  chat_config_free(&cfg);
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lines l = split_lines(data, size);
  check_conninfo(l.line[0], l.count > 1 ? l.line[1] : NULL, l.count > 2 ? l.line[2] : NULL);
  environment = &l;
  check_load();
  environment = NULL;
  free(l.text);
  return 0;
}
