#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "config.h"
#include "time_zone.h"

/* Appends ` key='value'` with libpq's quoting rules (backslash escapes ' and \). */
static int put_keyword(chat_bytes *s, const char *key, const char *value, size_t vlen) {
  if (s->len > 0 && chat_bytes_put(s, " ", 1) < 0) return -1;
  if (chat_bytes_put(s, key, strlen(key)) < 0 || chat_bytes_put(s, "='", 2) < 0) return -1;
  for (size_t i = 0; i < vlen; i++) {
    if ((value[i] == '\'' || value[i] == '\\') && chat_bytes_put(s, "\\", 1) < 0) return -1;
    if (chat_bytes_put(s, value + i, 1) < 0) return -1;
  }
  return chat_bytes_put(s, "'", 1);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Percent-decodes [p, p+n) into a new string; NULL on a broken escape. */
static char *url_decode(const char *p, size_t n) {
  char *out = malloc(n + 1);
  if (out == NULL) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '%') {
      if (i + 2 >= n) { /* fewer than two characters follow */
        free(out);
        return NULL;
      }
      int h = hexval((unsigned char)p[i + 1]), l = hexval((unsigned char)p[i + 2]);
      if (h < 0 || l < 0) {
        free(out);
        return NULL;
      }
      out[o++] = (char)(h * 16 + l);
      i += 2;
    } else {
      out[o++] = p[i];
    }
  }
  out[o] = '\0';
  return out;
}

/* Declared printf-like so callers' arguments are checked against their formats, and so
 * the vsnprintf below passes -Wformat-nonliteral (the format is the caller's literal). */
static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* JDBC query parameters that have a libpq meaning; the others (ssl factories, pool sizes,
 * Hibernate hints) are accepted and ignored, as the JDBC driver ignores unknown ones. */
static int map_param(chat_bytes *s, const char *key, size_t klen, const char *val) {
#define KEY_IS(lit) (klen == sizeof(lit) - 1 && strncmp(key, lit, klen) == 0)
  if (KEY_IS("currentSchema")) {
    /* search_path accepts a comma list, as currentSchema does. */
    char opt[512];
    int n = snprintf(opt, sizeof opt, "-c search_path=%s", val);
    if (n < 0 || (size_t)n >= sizeof opt) return -1;
    return put_keyword(s, "options", opt, (size_t)n);
  }
  if (KEY_IS("sslmode")) return put_keyword(s, "sslmode", val, strlen(val));
  if (KEY_IS("ApplicationName") || KEY_IS("applicationName"))
    return put_keyword(s, "application_name", val, strlen(val));
  if (KEY_IS("connectTimeout")) return put_keyword(s, "connect_timeout", val, strlen(val));
  if (KEY_IS("user")) return put_keyword(s, "user", val, strlen(val));
  if (KEY_IS("password")) return put_keyword(s, "password", val, strlen(val));
  if (KEY_IS("sslrootcert")) return put_keyword(s, "sslrootcert", val, strlen(val));
  return 0;
#undef KEY_IS
}

/* Parses "//[user[:pass]@]host[:port][,host[:port]...][/db][?k=v&...]" (the part after the
 * scheme of both JDBC and libpq URIs) into keywords. */
static int parse_authority_url(chat_bytes *s, const char *rest, char *err, size_t errlen) {
  if (strncmp(rest, "//", 2) != 0) {
    set_err(err, errlen, "expected '//' after the scheme");
    return -1;
  }
  const char *p = rest + 2;
  const char *end_auth = p + strcspn(p, "/?");
  const char *at = memchr(p, '@', (size_t)(end_auth - p));
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *uend = colon ? colon : at;
    char *user = url_decode(p, (size_t)(uend - p));
    char *pass = colon ? url_decode(colon + 1, (size_t)(at - colon - 1)) : NULL;
    int bad = user == NULL || (colon && pass == NULL);
    if (!bad && *user) bad = put_keyword(s, "user", user, strlen(user)) < 0;
    if (!bad && pass) bad = put_keyword(s, "password", pass, strlen(pass)) < 0;
    free(user);
    free(pass);
    if (bad) {
      set_err(err, errlen, "malformed user information");
      return -1;
    }
    p = at + 1;
  }
  /* Hosts: a comma list; libpq takes parallel comma lists of host and port. */
  chat_bytes hosts = {0}, ports = {0};
  int any_port = 0, rc = 0;
  while (p < end_auth) {
    const char *comma = memchr(p, ',', (size_t)(end_auth - p));
    const char *hend = comma ? comma : end_auth;
    const char *hstart = p, *host_end;
    const char *port_start = NULL;
    if (*p == '[') { /* IPv6 literal */
      const char *close = memchr(p, ']', (size_t)(hend - p));
      if (close == NULL) {
        set_err(err, errlen, "unterminated IPv6 address");
        rc = -1;
        break;
      }
      hstart = p + 1;
      host_end = close;
      if (close + 1 < hend && close[1] == ':') port_start = close + 2;
    } else {
      const char *colon = memchr(p, ':', (size_t)(hend - p));
      host_end = colon ? colon : hend;
      if (colon) port_start = colon + 1;
    }
    if (host_end == hstart) {
      set_err(err, errlen, "missing host");
      rc = -1;
      break;
    }
    if (hosts.len) chat_bytes_put(&hosts, ",", 1);
    if (ports.len || any_port) chat_bytes_put(&ports, ",", 1);
    chat_bytes_put(&hosts, hstart, (size_t)(host_end - hstart));
    if (port_start) {
      size_t plen = (size_t)(hend - port_start);
      if (plen == 0 || plen > 5 || strspn(port_start, "0123456789") < plen) {
        set_err(err, errlen, "port must be a number between 1 and 65535");
        rc = -1;
        break;
      }
      long port = strtol(port_start, NULL, 10);
      if (port < 1 || port > 65535) {
        set_err(err, errlen, "port must be a number between 1 and 65535");
        rc = -1;
        break;
      }
      chat_bytes_put(&ports, port_start, plen);
      any_port = 1;
    } else {
      chat_bytes_put(&ports, "5432", 4);
    }
    p = comma ? comma + 1 : end_auth;
  }
  if (rc == 0 && hosts.len == 0) {
    set_err(err, errlen, "missing host");
    rc = -1;
  }
  if (rc == 0) rc = put_keyword(s, "host", hosts.data, hosts.len);
  if (rc == 0) rc = put_keyword(s, "port", ports.data, ports.len);
  free(hosts.data);
  free(ports.data);
  if (rc < 0) return -1;

  p = end_auth;
  if (*p == '/') {
    p++;
    size_t dlen = strcspn(p, "?");
    if (dlen > 0) {
      char *db = url_decode(p, dlen);
      if (db == NULL) {
        set_err(err, errlen, "malformed database name");
        return -1;
      }
      rc = put_keyword(s, "dbname", db, strlen(db));
      free(db);
      if (rc < 0) return -1;
    }
    p += dlen;
  }
  if (*p == '?') {
    p++;
    while (*p) {
      size_t plen = strcspn(p, "&");
      const char *eq = memchr(p, '=', plen);
      if (eq != NULL) {
        char *val = url_decode(eq + 1, (size_t)(p + plen - eq - 1));
        if (val == NULL) {
          set_err(err, errlen, "malformed query parameter");
          return -1;
        }
        rc = map_param(s, p, (size_t)(eq - p), val);
        free(val);
        if (rc < 0) {
          set_err(err, errlen, "query parameter too long");
          return -1;
        }
      }
      p += plen;
      if (*p == '&') p++;
    }
  }
  return 0;
}

char *chat_config_pg_conninfo(const char *url, const char *user, const char *password,
                              char *err, size_t errlen) {
  static const char jdbc[] = "jdbc:postgresql:";
  chat_bytes s = {0};
  int rc;
  if (url == NULL || *url == '\0') {
    set_err(err, errlen, "is empty");
    return NULL;
  }
  if (strncmp(url, jdbc, sizeof jdbc - 1) == 0) {
    const char *rest = url + sizeof jdbc - 1;
    if (strncmp(rest, "//", 2) == 0) {
      rc = parse_authority_url(&s, rest, err, errlen);
    } else if (*rest != '\0' && strchr(rest, '/') == NULL) {
      /* jdbc:postgresql:database[?params] means localhost:5432. */
      size_t need = strlen(rest) + sizeof "//localhost/";
      char *full = malloc(need);
      rc = -1;
      if (full != NULL) {
        snprintf(full, need, "//localhost/%s", rest);
        rc = parse_authority_url(&s, full, err, errlen);
        free(full);
      }
    } else {
      set_err(err, errlen, "is not a jdbc:postgresql://host:port/database URL");
      rc = -1;
    }
  } else if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0) {
    rc = parse_authority_url(&s, strchr(url, ':') + 1, err, errlen);
  } else if (strchr(url, '=') != NULL) {
    rc = chat_bytes_put(&s, url, strlen(url)); /* already a key=value conninfo */
  } else {
    set_err(err, errlen, "is not a jdbc:postgresql:// URL, a postgresql:// URI or a conninfo");
    rc = -1;
  }
  /* Explicit credentials win over the URL's, as Spring's datasource properties do. */
  if (rc == 0 && user && *user) rc = put_keyword(&s, "user", user, strlen(user));
  if (rc == 0 && password && *password) rc = put_keyword(&s, "password", password, strlen(password));
  if (rc < 0) {
    free(s.data);
    return NULL;
  }
  return s.data;
}

static int parse_int(const char *v, long min, long max, long *out) {
  if (v == NULL || *v == '\0') return -1;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < min || n > max) return -1;
  *out = n;
  return 0;
}

/* The first variable of `names` that is set (non-empty). */
static const char *first_set(chat_getenv_fn get, const char *const *names, const char **which) {
  for (; *names; names++) {
    const char *v = get(*names);
    if (v != NULL && *v != '\0') {
      if (which) *which = *names;
      return v;
    }
  }
  return NULL;
}

static char *dup_or(const char *v, const char *fallback) {
  return strdup(v != NULL && *v != '\0' ? v : fallback);
}

static char *path_or(chat_getenv_fn get, const char *name, const char *install_dir,
                     const char *sub) {
  const char *v = get(name);
  if (v != NULL && *v != '\0') return strdup(v);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", install_dir ? install_dir : ".", sub);
  return strdup(buf);
}

static char *dup_set(const char *v) { return v && *v ? strdup(v) : NULL; }

/* CHAT_AUTH and what each mode needs; the rest is plain text for lua/chat/auth/access.lua. */
static int load_access(chat_config *cfg, chat_getenv_fn get, char *err, size_t errlen) {
  cfg->auth = dup_or(get("CHAT_AUTH"), "none");
  cfg->trusted_proxies = dup_or(get("CHAT_TRUSTED_PROXIES"), "127.0.0.1/32,::1/128");
  cfg->jwt_secret = dup_set(get("CHAT_JWT_SECRET"));
  cfg->jwt_public_key_file = dup_set(get("CHAT_JWT_PUBLIC_KEY_FILE"));
  cfg->jwt_jwks_file = dup_set(get("CHAT_JWT_JWKS_FILE"));
  cfg->jwt_jwks_url = dup_set(get("CHAT_JWT_JWKS_URL"));
  cfg->jwt_issuer = dup_set(get("CHAT_JWT_ISSUER"));
  cfg->jwt_audience = dup_set(get("CHAT_JWT_AUDIENCE"));
  cfg->jwt_user_claim = dup_or(get("CHAT_JWT_USER_CLAIM"), "sub");
  cfg->internal_networks = dup_or(get("CHAT_INTERNAL_NETWORKS"), "127.0.0.0/8,::1/128");
  cfg->internal_token = dup_set(get("CHAT_INTERNAL_TOKEN"));
  cfg->allowed_origins = dup_or(get("CHAT_ALLOWED_ORIGINS"), "*");
  const char *leeway = get("CHAT_JWT_LEEWAY_SECONDS");
  long n = 30;
  if (leeway && *leeway && parse_int(leeway, 0, 3600, &n) < 0) {
    set_err(err, errlen, "CHAT_JWT_LEEWAY_SECONDS must be an integer between 0 and 3600, got '%s'", leeway);
    chat_config_free(cfg);
    return -1;
  }
  cfg->jwt_leeway_s = (int)n;
  const char *refresh = get("CHAT_JWT_JWKS_REFRESH_SECONDS");
  n = 300;
  if (refresh && *refresh && parse_int(refresh, 10, 86400, &n) < 0) {
    set_err(err, errlen, "CHAT_JWT_JWKS_REFRESH_SECONDS must be an integer between 10 and 86400, got '%s'", refresh);
    chat_config_free(cfg);
    return -1;
  }
  cfg->jwt_jwks_refresh_s = (int)n;
  if (cfg->jwt_jwks_url && strncmp(cfg->jwt_jwks_url, "https://", 8) != 0 &&
      strncmp(cfg->jwt_jwks_url, "http://", 7) != 0) {
    set_err(err, errlen, "CHAT_JWT_JWKS_URL must be an http:// or https:// URL, got '%s'", cfg->jwt_jwks_url);
    chat_config_free(cfg);
    return -1;
  }
  if (strcmp(cfg->auth, "none") != 0 && strcmp(cfg->auth, "gateway") != 0 && strcmp(cfg->auth, "jwt") != 0) {
    set_err(err, errlen, "CHAT_AUTH must be none, gateway or jwt, got '%s'", cfg->auth);
    chat_config_free(cfg);
    return -1;
  }
  if (strcmp(cfg->auth, "jwt") == 0 && !cfg->jwt_secret && !cfg->jwt_public_key_file && !cfg->jwt_jwks_file &&
      !cfg->jwt_jwks_url) {
    set_err(err, errlen,
            "CHAT_AUTH=jwt needs CHAT_JWT_SECRET, CHAT_JWT_PUBLIC_KEY_FILE, CHAT_JWT_JWKS_FILE or CHAT_JWT_JWKS_URL");
    chat_config_free(cfg);
    return -1;
  }
  return 0;
}

/* true/false (any case) or 1/0; unset or empty is the default. */
static int parse_bool(const char *v, int def, int *out) {
  if (v == NULL || *v == '\0') {
    *out = def;
  } else if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
    *out = 1;
  } else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
    *out = 0;
  } else {
    return -1;
  }
  return 0;
}

int chat_config_load(chat_config *cfg, chat_getenv_fn get, const char *install_dir, char *err,
                     size_t errlen) {
  memset(cfg, 0, sizeof *cfg);
  long n;
  const char *which = NULL;

  /* Integers with ranges: a malformed value stops start-up naming the variable. */
  struct {
    const char *name;
    long def, min, max;
    long *out;
  } ints[] = {
      {"SERVER_PORT", 8084, 1, 65535, NULL},
      {"CHAT_PG_POOL_SIZE", 4, 1, 64, NULL},
      {"CHAT_HTTP_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024, NULL},
      {"CHAT_HTTP_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024, NULL},
      {"CHAT_HTTP_HEADER_TIMEOUT_MS", 10000, 100, 3600000, NULL},
      {"CHAT_HTTP_IDLE_TIMEOUT_MS", 60000, 100, 3600000, NULL},
      {"CHAT_SHUTDOWN_TIMEOUT_MS", 20000, 0, 3600000, NULL},
      {"CHAT_REUSE_PORT", 0, 0, 1, NULL},
      {"CHAT_STOMP_HEARTBEAT_MS", 10000, 100, 3600000, NULL},
      {"CHAT_STOMP_MAX_FRAME_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024, NULL},
      {"CHAT_STOMP_MAX_QUEUED_BYTES", 512 * 1024, 4096, 256 * 1024 * 1024, NULL},
      {"CHAT_STOMP_MAX_STALL_MS", 10000, 100, 3600000, NULL},
      {"CHAT_KAFKA_ENABLED", 1, 0, 1, NULL},
      {"CHAT_KAFKA_SESSION_TIMEOUT_MS", 45000, 6000, 300000, NULL},
      {"CHAT_LUA_WATCH", 1, 0, 1, NULL},
      {"CHAT_SHUTDOWN_DRAIN_MS", 0, 0, 3600000, NULL},
      {"CHAT_MAX_CONNECTIONS", 0, 0, 10000000, NULL},
      {"CHAT_STOMP_MAX_HEADERS", 64, 1, 1024, NULL},
      {"CHAT_STOMP_MAX_SUBSCRIPTIONS", 100, 1, 100000, NULL},
      {"CHAT_STOMP_MAX_FRAMES_PER_SECOND", 100, 1, 1000000, NULL},
      {"CHAT_SOCKJS_MAX_SESSIONS", 10000, 1, 10000000, NULL},
      {"CHAT_REDIS_TIMEOUT_MS", 2000, 50, 600000, NULL},
      {"CHAT_PG_STATEMENT_TIMEOUT_MS", 5000, 100, 3600000, NULL},
      {"CHAT_PG_CONNECT_TIMEOUT_MS", 5000, 100, 600000, NULL},
      {"CHAT_KAFKA_PRODUCE_TIMEOUT_MS", 10000, 1000, 900000, NULL},
      {"CHAT_RESUME_MAX_MESSAGES", 1000, 1, 100000, NULL},
      {"CHAT_HISTORY_CACHE_MB", 64, 0, 65536, NULL},
  };
  long vals[sizeof ints / sizeof ints[0]];
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    const char *v = get(ints[i].name);
    if (v == NULL || *v == '\0') {
      vals[i] = ints[i].def;
    } else if (parse_int(v, ints[i].min, ints[i].max, &vals[i]) < 0) {
      set_err(err, errlen, "%s must be an integer between %ld and %ld, got '%s'", ints[i].name,
              ints[i].min, ints[i].max, v);
      return -1;
    }
  }
  cfg->port = (int)vals[0];
  cfg->pg_pool_size = (int)vals[1];
  cfg->http_max_header_bytes = (size_t)vals[2];
  cfg->http_max_body_bytes = (size_t)vals[3];
  cfg->http_header_timeout_ms = (int)vals[4];
  cfg->http_idle_timeout_ms = (int)vals[5];
  cfg->shutdown_timeout_ms = (int)vals[6];
  cfg->reuse_port = (int)vals[7];
  cfg->stomp_heartbeat_ms = (int)vals[8];
  cfg->stomp_max_frame_bytes = (size_t)vals[9];
  cfg->stomp_max_queued_bytes = (size_t)vals[10];
  cfg->stomp_max_stall_ms = (int)vals[11];
  cfg->kafka_enabled = (int)vals[12];
  cfg->kafka_session_timeout_ms = (int)vals[13];
  cfg->lua_watch = (int)vals[14];
  cfg->shutdown_drain_ms = (int)vals[15];
  cfg->max_connections = (size_t)vals[16];
  cfg->stomp_max_headers = (size_t)vals[17];
  cfg->stomp_max_subscriptions = (size_t)vals[18];
  cfg->stomp_max_frames_per_second = (unsigned)vals[19];
  cfg->sockjs_max_sessions = (size_t)vals[20];
  cfg->redis_timeout_ms = (int)vals[21];
  cfg->pg_statement_timeout_ms = (int)vals[22];
  cfg->pg_connect_timeout_ms = (int)vals[23];
  cfg->kafka_produce_timeout_ms = (int)vals[24];
  cfg->resume_max_messages = (int)vals[25];
  cfg->history_cache_mb = (int)vals[26];
  /* The drain is part of the stop, not added to it: SIGTERM to exit stays within
   * CHAT_SHUTDOWN_TIMEOUT_MS, which is what a grace period is sized from. */
  if (cfg->shutdown_drain_ms >= cfg->shutdown_timeout_ms && cfg->shutdown_drain_ms > 0) {
    set_err(err, errlen, "CHAT_SHUTDOWN_DRAIN_MS (%d) must be less than CHAT_SHUTDOWN_TIMEOUT_MS (%d)",
            cfg->shutdown_drain_ms, cfg->shutdown_timeout_ms);
    return -1;
  }

  const char *url = get("SPRING_DATASOURCE_URL");
  if (url == NULL || *url == '\0') {
    set_err(err, errlen, "SPRING_DATASOURCE_URL is required (jdbc:postgresql://host:port/database)");
    chat_config_free(cfg);
    return -1;
  }
  char why[256] = "";
  cfg->pg_conninfo = chat_config_pg_conninfo(url, get("SPRING_DATASOURCE_USERNAME"),
                                             get("SPRING_DATASOURCE_PASSWORD"), why, sizeof why);
  if (cfg->pg_conninfo == NULL) {
    set_err(err, errlen, "SPRING_DATASOURCE_URL %s", why);
    chat_config_free(cfg);
    return -1;
  }

  static const char *const redis_hosts[] = {"SPRING_DATA_REDIS_HOST", "REDIS_HOST", NULL};
  static const char *const redis_ports[] = {"SPRING_DATA_REDIS_PORT", "REDIS_PORT", NULL};
  cfg->redis_host = dup_or(first_set(get, redis_hosts, NULL), "localhost");
  const char *rp = first_set(get, redis_ports, &which);
  cfg->redis_port = 6379;
  if (rp != NULL) {
    if (parse_int(rp, 1, 65535, &n) < 0) {
      set_err(err, errlen, "%s must be a port number between 1 and 65535, got '%s'", which, rp);
      chat_config_free(cfg);
      return -1;
    }
    cfg->redis_port = (int)n;
  }

  static const char *const cluster[] = {"SPRING_DATA_REDIS_CLUSTER_NODES", "SPRING_REDIS_CLUSTER_NODES", NULL};
  cfg->redis_cluster_nodes = dup_set(first_set(get, cluster, NULL));
  const char *pubsub = get("CHAT_REDIS_PUBSUB");
  if (pubsub != NULL && strcmp(pubsub, "single") != 0 && strcmp(pubsub, "sharded") != 0) {
    set_err(err, errlen, "CHAT_REDIS_PUBSUB must be single or sharded, got '%s'", pubsub);
    chat_config_free(cfg);
    return -1;
  }
  cfg->redis_pubsub_sharded = pubsub != NULL && strcmp(pubsub, "sharded") == 0;

  static const char *const kafka[] = {"SPRING_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS",
                                      "KAFKA_SERVERS", NULL};
  cfg->kafka_bootstrap = dup_or(first_set(get, kafka, NULL), "localhost:9092");
  cfg->kafka_group = dup_or(get("SPRING_KAFKA_CONSUMER_GROUP_ID"), "chat-service-group");
  static const char *const eureka[] = {"EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE",
                                       "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", NULL};
  const char *eu = first_set(get, eureka, NULL);
  cfg->eureka_url = eu ? strdup(eu) : NULL;
  /* Each Eureka knob under the name Spring's relaxed binding reads from the environment
   * (EUREKA_INSTANCE_PREFERIPADDRESS) and the underscored spelling people write. */
  static const char *const eu_host[] = {"EUREKA_INSTANCE_HOSTNAME", "EUREKA_INSTANCE_HOST_NAME", NULL};
  static const char *const eu_ip[] = {"EUREKA_INSTANCE_IP_ADDRESS", "EUREKA_INSTANCE_IPADDRESS", NULL};
  static const char *const eu_id[] = {"EUREKA_INSTANCE_INSTANCE_ID", "EUREKA_INSTANCE_INSTANCEID", NULL};
  static const char *const eu_prefer[] = {"EUREKA_INSTANCE_PREFER_IP_ADDRESS", "EUREKA_INSTANCE_PREFERIPADDRESS",
                                          NULL};
  static const char *const eu_renew[] = {"EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS",
                                         "EUREKA_INSTANCE_LEASERENEWALINTERVALINSECONDS", NULL};
  static const char *const eu_lease[] = {"EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION_IN_SECONDS",
                                         "EUREKA_INSTANCE_LEASEEXPIRATIONDURATIONINSECONDS", NULL};
  const char *v = first_set(get, eu_host, NULL);
  cfg->eureka_hostname = v ? strdup(v) : NULL;
  v = first_set(get, eu_ip, NULL);
  cfg->eureka_ip_address = v ? strdup(v) : NULL;
  v = first_set(get, eu_id, NULL);
  cfg->eureka_instance_id = v ? strdup(v) : NULL;
  v = first_set(get, eu_prefer, &which);
  if (parse_bool(v, 0, &cfg->eureka_prefer_ip_address) < 0) {
    set_err(err, errlen, "%s must be true or false, got '%s'", which, v);
    chat_config_free(cfg);
    return -1;
  }
  struct {
    const char *const *names;
    long def, max;
    int *out;
  } eu_ints[] = {{eu_renew, 30, 3600, &cfg->eureka_renewal_interval_s},
                 {eu_lease, 90, 86400, &cfg->eureka_lease_duration_s}};
  for (size_t i = 0; i < sizeof eu_ints / sizeof eu_ints[0]; i++) {
    v = first_set(get, eu_ints[i].names, &which);
    n = eu_ints[i].def;
    if (v != NULL && parse_int(v, 1, eu_ints[i].max, &n) < 0) {
      set_err(err, errlen, "%s must be an integer between 1 and %ld, got '%s'", which, eu_ints[i].max, v);
      chat_config_free(cfg);
      return -1;
    }
    *eu_ints[i].out = (int)n;
  }
  v = get("CHAT_MIXED_FLEET");
  if (parse_bool(v, 1, &cfg->mixed_fleet) < 0) {
    set_err(err, errlen, "CHAT_MIXED_FLEET must be true or false, got '%s'", v);
    chat_config_free(cfg);
    return -1;
  }
  /* The original publishes and listens on chat:messages only: pods on room channels would
   * neither hear it nor be heard by it. */
  if (cfg->mixed_fleet && cfg->redis_cluster_nodes) {
    set_err(err, errlen, "SPRING_DATA_REDIS_CLUSTER_NODES needs CHAT_MIXED_FLEET=false: original pods connect to "
            "one Redis (its RedisConfig), never to a cluster");
    chat_config_free(cfg);
    return -1;
  }
  if (cfg->mixed_fleet && cfg->redis_pubsub_sharded) {
    set_err(err, errlen, "CHAT_REDIS_PUBSUB=sharded needs CHAT_MIXED_FLEET=false: original pods publish and "
            "listen on chat:messages only");
    chat_config_free(cfg);
    return -1;
  }
  /* The original's zones: Hibernate's jdbc.time_zone and spring.jackson.time-zone (both
   * Asia/Seoul in its application.yml), under the names Spring's relaxed binding gives them. */
  struct {
    const char *name;
    char **out;
  } zones[] = {{"SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE", &cfg->db_time_zone},
               {"SPRING_JACKSON_TIME_ZONE", &cfg->json_time_zone}};
  for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
    *zones[i].out = dup_or(get(zones[i].name), "Asia/Seoul");
    chat_time_zone zone;
    char why_zone[256];
    if (chat_time_zone_init(&zone, *zones[i].out, why_zone, sizeof why_zone) < 0) {
      set_err(err, errlen, "%s: %s", zones[i].name, why_zone);
      chat_config_free(cfg);
      return -1;
    }
  }
  cfg->app_name = dup_or(get("SPRING_APPLICATION_NAME"), "chat-service");
  cfg->bind_address = dup_or(get("CHAT_BIND_ADDRESS"), "0.0.0.0");
  cfg->log_level = dup_or(get("CHAT_LOG_LEVEL"), "info");
  cfg->lua_dir = path_or(get, "CHAT_LUA_DIR", install_dir, "lua");
  const char *profile = get("CHAT_LUA_PROFILE");
  cfg->lua_profile = profile != NULL && *profile != '\0' ? strdup(profile) : NULL;
  cfg->migrations_dir = path_or(get, "CHAT_MIGRATIONS_DIR", install_dir, "migrations");
  cfg->static_dir = path_or(get, "CHAT_STATIC_DIR", install_dir, "web");
  return load_access(cfg, get, err, errlen);
}

void chat_config_free(chat_config *cfg) {
  free(cfg->auth);
  free(cfg->db_time_zone);
  free(cfg->json_time_zone);
  free(cfg->trusted_proxies);
  free(cfg->jwt_secret);
  free(cfg->jwt_public_key_file);
  free(cfg->jwt_jwks_file);
  free(cfg->jwt_jwks_url);
  free(cfg->jwt_issuer);
  free(cfg->jwt_audience);
  free(cfg->jwt_user_claim);
  free(cfg->internal_networks);
  free(cfg->internal_token);
  free(cfg->allowed_origins);
  free(cfg->bind_address);
  free(cfg->pg_conninfo);
  free(cfg->redis_host);
  free(cfg->redis_cluster_nodes);
  free(cfg->kafka_bootstrap);
  free(cfg->kafka_group);
  free(cfg->eureka_url);
  free(cfg->eureka_hostname);
  free(cfg->eureka_ip_address);
  free(cfg->eureka_instance_id);
  free(cfg->app_name);
  free(cfg->lua_dir);
  free(cfg->lua_profile);
  free(cfg->migrations_dir);
  free(cfg->static_dir);
  free(cfg->log_level);
  memset(cfg, 0, sizeof *cfg);
}
