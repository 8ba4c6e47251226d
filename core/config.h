/* Configuration from the environment, exactly as the original's deployment sets it
 * (CONTRACT §1), plus chatd's own CHAT_* knobs. Pure: the environment is read through
 * a lookup function so tests can pass a fake one. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stddef.h>

typedef struct chat_config {
  int port;
  char *bind_address;   /* CHAT_BIND_ADDRESS, default 0.0.0.0 */
  char *pg_conninfo;    /* libpq conninfo built from SPRING_DATASOURCE_* */
  int pg_pool_size;     /* CHAT_PG_POOL_SIZE, default 4 */
  char *redis_host;
  int redis_port;
  char *redis_cluster_nodes; /* SPRING_DATA_REDIS_CLUSTER_NODES "host:port,...", NULL: one Redis */
  int redis_pubsub_sharded;  /* CHAT_REDIS_PUBSUB=sharded: per-room SSUBSCRIBE (default single) */
  char *kafka_bootstrap;
  char *kafka_group;
  char *eureka_url;     /* NULL: do not register; else a comma list of zone URLs */
  char *eureka_hostname;    /* EUREKA_INSTANCE_HOSTNAME, NULL: gethostname() */
  char *eureka_ip_address;  /* EUREKA_INSTANCE_IP_ADDRESS, NULL: first non-loopback IPv4 */
  char *eureka_instance_id; /* EUREKA_INSTANCE_INSTANCE_ID, NULL: host:app:port */
  int eureka_prefer_ip_address;   /* EUREKA_INSTANCE_PREFER_IP_ADDRESS, default false */
  int eureka_renewal_interval_s;  /* EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS, 30 */
  int eureka_lease_duration_s;    /* EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION_IN_SECONDS, 90 */
  char *app_name;
  int mixed_fleet;       /* CHAT_MIXED_FLEET, default true: original pods may share Redis */
  char *db_time_zone;    /* SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE, default Asia/Seoul */
  char *json_time_zone;  /* SPRING_JACKSON_TIME_ZONE (error timestamps), default Asia/Seoul */
  char *lua_dir;
  char *lua_profile; /* CHAT_LUA_PROFILE: where to write the scripts' profile at stop; NULL: none */
  char *migrations_dir; /* CHAT_MIGRATIONS_DIR */
  char *static_dir;     /* CHAT_STATIC_DIR */
  size_t http_max_header_bytes; /* CHAT_HTTP_MAX_HEADER_BYTES, default 16 KiB */
  size_t http_max_body_bytes;   /* CHAT_HTTP_MAX_BODY_BYTES, default 1 MiB */
  int http_header_timeout_ms;   /* CHAT_HTTP_HEADER_TIMEOUT_MS, default 10 s */
  int http_idle_timeout_ms;     /* CHAT_HTTP_IDLE_TIMEOUT_MS, default 60 s */
  int shutdown_timeout_ms;      /* CHAT_SHUTDOWN_TIMEOUT_MS, default 20 s: SIGTERM to exit */
  int shutdown_drain_ms;        /* CHAT_SHUTDOWN_DRAIN_MS, default 0: readiness DOWN, still serving */
  int reuse_port;               /* CHAT_REUSE_PORT=1: SO_REUSEPORT, several processes */
  int stomp_heartbeat_ms;       /* CHAT_STOMP_HEARTBEAT_MS, offered both ways, default 10 s */
  size_t stomp_max_frame_bytes; /* CHAT_STOMP_MAX_FRAME_BYTES, default 64 KiB */
  size_t stomp_max_queued_bytes;/* CHAT_STOMP_MAX_QUEUED_BYTES, default 512 KiB */
  int stomp_max_stall_ms;       /* CHAT_STOMP_MAX_STALL_MS, default 10 s */
  size_t stomp_max_headers;     /* CHAT_STOMP_MAX_HEADERS per frame, default 64 */
  size_t stomp_max_subscriptions; /* CHAT_STOMP_MAX_SUBSCRIPTIONS per connection, default 100 */
  unsigned stomp_max_frames_per_second; /* CHAT_STOMP_MAX_FRAMES_PER_SECOND per connection, default 100 */
  size_t max_connections;       /* CHAT_MAX_CONNECTIONS, 0 (default): the open-file limit less a reserve */
  size_t sockjs_max_sessions;   /* CHAT_SOCKJS_MAX_SESSIONS, default 10000 */
  int kafka_enabled;            /* CHAT_KAFKA_ENABLED, default 1 */
  int kafka_session_timeout_ms; /* CHAT_KAFKA_SESSION_TIMEOUT_MS, default 45 s */
  int lua_watch;                /* CHAT_LUA_WATCH, default 1: reload when the scripts change */
  /* How long a dependency may stay silent before the work waiting on it fails (503) and
   * the connection is made again: a paused or partitioned server costs bounded time. */
  int redis_timeout_ms;         /* CHAT_REDIS_TIMEOUT_MS, default 2 s */
  int pg_statement_timeout_ms;  /* CHAT_PG_STATEMENT_TIMEOUT_MS, default 5 s */
  int pg_connect_timeout_ms;    /* CHAT_PG_CONNECT_TIMEOUT_MS, default 5 s */
  int kafka_produce_timeout_ms; /* CHAT_KAFKA_PRODUCE_TIMEOUT_MS, default 10 s */
  int resume_max_messages;      /* CHAT_RESUME_MAX_MESSAGES: the longest replay, default 1000 */
  int history_cache_mb;         /* CHAT_HISTORY_CACHE_MB: newest history pages kept, default 64, 0 off */
  char *log_level;
  /* Identity and access (docs/access-control.md). The CIDR lists and key files are read
   * and checked by lua/chat/auth/access.lua, on start and on every reload. */
  char *auth;               /* CHAT_AUTH: none (default), gateway or jwt */
  char *trusted_proxies;    /* CHAT_TRUSTED_PROXIES: whose X-User-Id is believed */
  char *jwt_secret;         /* CHAT_JWT_SECRET: HS256 key; a secret, never logged */
  char *jwt_public_key_file;/* CHAT_JWT_PUBLIC_KEY_FILE: RS256 PEM */
  char *jwt_jwks_file;      /* CHAT_JWT_JWKS_FILE: RS256 key set */
  char *jwt_jwks_url;       /* CHAT_JWT_JWKS_URL: the same, fetched from the identity provider */
  int jwt_jwks_refresh_s;   /* CHAT_JWT_JWKS_REFRESH_SECONDS, default 300 */
  char *jwt_issuer;         /* CHAT_JWT_ISSUER, NULL: any */
  char *jwt_audience;       /* CHAT_JWT_AUDIENCE, NULL: any */
  char *jwt_user_claim;     /* CHAT_JWT_USER_CLAIM, default sub */
  int jwt_leeway_s;         /* CHAT_JWT_LEEWAY_SECONDS, default 30 */
  char *internal_networks;  /* CHAT_INTERNAL_NETWORKS: who may call /api/chat/internal/... */
  char *internal_token;     /* CHAT_INTERNAL_TOKEN: or anyone with it; a secret, never logged */
  char *allowed_origins;    /* CHAT_ALLOWED_ORIGINS: browser origins, default * */
} chat_config;

typedef const char *(*chat_getenv_fn)(const char *name);

/* Fills cfg from the environment. Returns 0, or -1 with one line naming the variable in err. */
int chat_config_load(chat_config *cfg, chat_getenv_fn getenv_fn, const char *install_dir,
                     char *err, size_t errlen);
void chat_config_free(chat_config *cfg);

/* Turns `jdbc:postgresql://host:port/db?currentSchema=s&...` (or a postgres:// URI, or a
 * key=value conninfo) plus user/password into a libpq conninfo string (malloc'ed).
 * Returns NULL with a reason in err when the URL is malformed. */
char *chat_config_pg_conninfo(const char *url, const char *user, const char *password,
                              char *err, size_t errlen);

#endif
