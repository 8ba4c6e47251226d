/* Configuration parsing: CONTRACT §1 variables, their defaults, the JDBC URL forms the
 * original's ConfigMap uses, and the one-line errors for bad values. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;
static const char *fake_getenv(const char *name) {
  for (const char *const *p = fake_env; *p; p += 2)
    if (strcmp(p[0], name) == 0) return p[1];
  return NULL;
}

static char *conninfo(const char *url, const char *user, const char *pass) {
  char err[256];
  return chat_config_pg_conninfo(url, user, pass, err, sizeof err);
}

static void test_jdbc_urls(void) {
  char *c = conninfo("jdbc:postgresql://db.svc:5433/chat?currentSchema=public", "app", "s3cr'et");
  CHECK_STR(c, "host='db.svc' port='5433' dbname='chat' options='-c search_path=public' "
               "user='app' password='s3cr\\'et'");
  free(c);

  c = conninfo("jdbc:postgresql://localhost/chat", NULL, NULL);
  CHECK_STR(c, "host='localhost' port='5432' dbname='chat'");
  free(c);

  c = conninfo("jdbc:postgresql://h1:5432,h2:5433/db?sslmode=require&unknownThing=1", "", "");
  CHECK_STR(c, "host='h1,h2' port='5432,5433' dbname='db' sslmode='require'");
  free(c);

  c = conninfo("jdbc:postgresql://[::1]:6000/x", NULL, NULL);
  CHECK_STR(c, "host='::1' port='6000' dbname='x'");
  free(c);

  c = conninfo("jdbc:postgresql:chat?currentSchema=s1", NULL, NULL);
  CHECK_STR(c, "host='localhost' port='5432' dbname='chat' options='-c search_path=s1'");
  free(c);

  c = conninfo("jdbc:postgresql://u:p%40ss@h:1/d%20b", NULL, NULL);
  CHECK_STR(c, "user='u' password='p@ss' host='h' port='1' dbname='d b'");
  free(c);

  /* libpq forms are accepted too. */
  c = conninfo("postgresql://h:7/db", "x", NULL);
  CHECK_STR(c, "host='h' port='7' dbname='db' user='x'");
  free(c);
  c = conninfo("host=/tmp dbname=chat", NULL, NULL);
  CHECK_STR(c, "host=/tmp dbname=chat");
  free(c);
}

static void test_bad_urls(void) {
  char err[256];
  const char *bad[] = {"", "mysql://h/db", "jdbc:postgresql://:5432/db", "jdbc:postgresql://h:99999/db",
                       "jdbc:postgresql://h:abc/db", "jdbc:postgresql://[::1/db", "jdbc:postgresql:/x",
                       "jdbc:postgresql://h/d%zz", NULL};
  for (const char **b = bad; *b; b++) {
    err[0] = '\0';
    char *c = chat_config_pg_conninfo(*b, NULL, NULL, err, sizeof err);
    CHECK(c == NULL);
    CHECK(err[0] != '\0');
    free(c);
  }
}

static void test_defaults(void) {
  static const char *const env[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://db:5432/chat", NULL};
  fake_env = env;
  chat_config cfg;
  char err[256] = "";
  CHECK(chat_config_load(&cfg, fake_getenv, "/opt/chatd", err, sizeof err) == 0);
  CHECK(cfg.port == 8084);
  CHECK_STR(cfg.redis_host, "localhost");
  CHECK(cfg.redis_port == 6379);
  CHECK_STR(cfg.kafka_bootstrap, "localhost:9092");
  CHECK_STR(cfg.kafka_group, "chat-service-group");
  CHECK(cfg.eureka_url == NULL);
  CHECK_STR(cfg.app_name, "chat-service");
  CHECK_STR(cfg.lua_dir, "/opt/chatd/lua");
  CHECK_STR(cfg.migrations_dir, "/opt/chatd/migrations");
  CHECK(cfg.pg_pool_size == 4);
  CHECK(cfg.http_max_body_bytes == 1024 * 1024);
  CHECK(cfg.lua_watch == 1);
  CHECK(cfg.shutdown_timeout_ms == 20000);
  CHECK(cfg.shutdown_drain_ms == 0);
  CHECK_STR(cfg.auth, "none");
  CHECK_STR(cfg.internal_networks, "127.0.0.0/8,::1/128");
  CHECK_STR(cfg.allowed_origins, "*");
  CHECK(cfg.jwt_secret == NULL && cfg.internal_token == NULL);
  CHECK(cfg.jwt_leeway_s == 30 && cfg.jwt_jwks_refresh_s == 300);
  /* The original's zones (application.yml) and a fleet that may still hold original pods. */
  CHECK_STR(cfg.db_time_zone, "Asia/Seoul");
  CHECK_STR(cfg.json_time_zone, "Asia/Seoul");
  CHECK(cfg.mixed_fleet == 1);
  /* A silent dependency costs bounded time. */
  CHECK(cfg.redis_timeout_ms == 2000 && cfg.pg_statement_timeout_ms == 5000);
  CHECK(cfg.pg_connect_timeout_ms == 5000 && cfg.kafka_produce_timeout_ms == 10000);
  CHECK(cfg.resume_max_messages == 1000 && cfg.history_cache_mb == 64);
  /* One Redis and the global channels, as the original. */
  CHECK(cfg.redis_cluster_nodes == NULL && cfg.redis_pubsub_sharded == 0);
  chat_config_free(&cfg);
}

static void test_redis_cluster_and_sharded_pubsub(void) {
  static const char *const env[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://db/chat",
                                    "SPRING_DATA_REDIS_CLUSTER_NODES", "r1:7000,r2:7000", "CHAT_REDIS_PUBSUB",
                                    "sharded", "CHAT_MIXED_FLEET", "false", NULL};
  fake_env = env;
  chat_config cfg;
  char err[256] = "";
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == 0);
  CHECK_STR(cfg.redis_cluster_nodes, "r1:7000,r2:7000");
  CHECK(cfg.redis_pubsub_sharded == 1);
  chat_config_free(&cfg);
}

static void test_aliases_and_overrides(void) {
  static const char *const env[] = {
      "SPRING_DATASOURCE_URL", "jdbc:postgresql://db/chat",
      "SERVER_PORT", "9000",
      "REDIS_HOST", "redis.svc",
      "REDIS_PORT", "6380",
      "KAFKA_SERVERS", "k1:9092,k2:9092",
      "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", "http://eureka:8761/eureka/",
      "CHAT_LUA_DIR", "/etc/chatd/lua",
      "CHAT_LUA_WATCH", "0",
      "CHAT_SHUTDOWN_DRAIN_MS", "5000",
      "SPRING_JPA_HIBERNATE_DDL_AUTO", "update", /* unknown SPRING_* is ignored */
      NULL};
  fake_env = env;
  chat_config cfg;
  char err[256] = "";
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == 0);
  CHECK(cfg.port == 9000);
  CHECK_STR(cfg.redis_host, "redis.svc");
  CHECK(cfg.redis_port == 6380);
  CHECK_STR(cfg.kafka_bootstrap, "k1:9092,k2:9092");
  CHECK_STR(cfg.eureka_url, "http://eureka:8761/eureka/");
  CHECK_STR(cfg.lua_dir, "/etc/chatd/lua");
  CHECK(cfg.lua_watch == 0);
  CHECK(cfg.shutdown_drain_ms == 5000);
  chat_config_free(&cfg);

  /* The SPRING_ name wins over the short alias. */
  static const char *const env2[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://db/chat",
                                     "SPRING_DATA_REDIS_HOST", "a", "REDIS_HOST", "b", NULL};
  fake_env = env2;
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == 0);
  CHECK_STR(cfg.redis_host, "a");
  chat_config_free(&cfg);
}

static void expect_error(const char *const *env, const char *needle) {
  fake_env = env;
  chat_config cfg;
  char err[256] = "";
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == -1);
  if (strstr(err, needle) == NULL) {
    fprintf(stderr, "error '%s' does not name '%s'\n", err, needle);
    CHECK(0);
  }
}

static void test_errors_name_the_variable(void) {
  static const char *const missing[] = {NULL};
  expect_error(missing, "SPRING_DATASOURCE_URL");
  static const char *const port[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "SERVER_PORT", "80x", NULL};
  expect_error(port, "SERVER_PORT");
  static const char *const range[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "SERVER_PORT", "70000", NULL};
  expect_error(range, "SERVER_PORT");
  static const char *const redis[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "REDIS_PORT", "-1", NULL};
  expect_error(redis, "REDIS_PORT");
  static const char *const url[] = {"SPRING_DATASOURCE_URL", "jdbc:mysql://h/d", NULL};
  expect_error(url, "SPRING_DATASOURCE_URL");
  static const char *const pool[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_PG_POOL_SIZE", "0", NULL};
  expect_error(pool, "CHAT_PG_POOL_SIZE");
  static const char *const cache[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_HISTORY_CACHE_MB", "-1", NULL};
  expect_error(cache, "CHAT_HISTORY_CACHE_MB");
  static const char *const watch[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_LUA_WATCH", "yes", NULL};
  expect_error(watch, "CHAT_LUA_WATCH");
  static const char *const prefer[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                       "EUREKA_INSTANCE_PREFER_IP_ADDRESS", "yes", NULL};
  expect_error(prefer, "EUREKA_INSTANCE_PREFER_IP_ADDRESS");
  static const char *const renew[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                      "EUREKA_INSTANCE_LEASERENEWALINTERVALINSECONDS", "0", NULL};
  expect_error(renew, "EUREKA_INSTANCE_LEASERENEWALINTERVALINSECONDS");
  /* The drain is part of the stop deadline, so it must be shorter. */
  static const char *const drain[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_SHUTDOWN_DRAIN_MS",
                                      "20000", NULL};
  expect_error(drain, "CHAT_SHUTDOWN_DRAIN_MS");
  /* The zones must be ones both chatd and PostgreSQL read the same way. */
  static const char *const db_zone[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                        "SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE", "Mars/Olympus", NULL};
  expect_error(db_zone, "SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE");
  static const char *const json_zone[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                          "SPRING_JACKSON_TIME_ZONE", "../../etc/passwd", NULL};
  expect_error(json_zone, "SPRING_JACKSON_TIME_ZONE");
  static const char *const mixed[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_MIXED_FLEET", "maybe", NULL};
  expect_error(mixed, "CHAT_MIXED_FLEET");
  static const char *const pubsub[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_REDIS_PUBSUB", "rooms",
                                       NULL};
  expect_error(pubsub, "CHAT_REDIS_PUBSUB");
  /* Original pods hear chat:messages on one Redis only: neither is possible beside them. */
  static const char *const sharded_mixed[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_REDIS_PUBSUB",
                                              "sharded", NULL};
  expect_error(sharded_mixed, "CHAT_MIXED_FLEET=false");
  static const char *const cluster_mixed[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                              "SPRING_DATA_REDIS_CLUSTER_NODES", "r1:7000", NULL};
  expect_error(cluster_mixed, "CHAT_MIXED_FLEET=false");
  /* Access control: the mode, a key source for jwt, and its numbers and URL. */
  static const char *const mode[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_AUTH", "ldap", NULL};
  expect_error(mode, "CHAT_AUTH");
  static const char *const keyless[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_AUTH", "jwt", NULL};
  expect_error(keyless, "CHAT_JWT_JWKS_URL");
  static const char *const leeway[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_JWT_LEEWAY_SECONDS",
                                       "-5", NULL};
  expect_error(leeway, "CHAT_JWT_LEEWAY_SECONDS");
  static const char *const refresh[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                        "CHAT_JWT_JWKS_REFRESH_SECONDS", "1", NULL};
  expect_error(refresh, "CHAT_JWT_JWKS_REFRESH_SECONDS");
  static const char *const jwks_url[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", "CHAT_JWT_JWKS_URL",
                                         "ftp://idp/jwks", NULL};
  expect_error(jwks_url, "CHAT_JWT_JWKS_URL");
}

/* The Eureka instance knobs: defaults, both spellings (Spring's relaxed-binding name and
 * the underscored one). */
static void test_eureka_knobs(void) {
  static const char *const none[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d", NULL};
  fake_env = none;
  chat_config cfg;
  char err[256] = "";
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == 0);
  CHECK(cfg.eureka_hostname == NULL);
  CHECK(cfg.eureka_ip_address == NULL);
  CHECK(cfg.eureka_instance_id == NULL);
  CHECK(cfg.eureka_prefer_ip_address == 0);
  CHECK(cfg.eureka_renewal_interval_s == 30);
  CHECK(cfg.eureka_lease_duration_s == 90);
  chat_config_free(&cfg);

  static const char *const set[] = {"SPRING_DATASOURCE_URL", "jdbc:postgresql://h/d",
                                    "EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE", "http://a/eureka/,http://b/eureka/",
                                    "EUREKA_INSTANCE_HOSTNAME", "chat-0.chat",
                                    "EUREKA_INSTANCE_IPADDRESS", "10.1.2.3",
                                    "EUREKA_INSTANCE_PREFERIPADDRESS", "TRUE",
                                    "EUREKA_INSTANCE_INSTANCE_ID", "chat-0",
                                    "EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS", "1",
                                    "EUREKA_INSTANCE_LEASEEXPIRATIONDURATIONINSECONDS", "5",
                                    NULL};
  fake_env = set;
  CHECK(chat_config_load(&cfg, fake_getenv, ".", err, sizeof err) == 0);
  CHECK_STR(cfg.eureka_url, "http://a/eureka/,http://b/eureka/");
  CHECK_STR(cfg.eureka_hostname, "chat-0.chat");
  CHECK_STR(cfg.eureka_ip_address, "10.1.2.3");
  CHECK_STR(cfg.eureka_instance_id, "chat-0");
  CHECK(cfg.eureka_prefer_ip_address == 1);
  CHECK(cfg.eureka_renewal_interval_s == 1);
  CHECK(cfg.eureka_lease_duration_s == 5);
  chat_config_free(&cfg);
}

int main(void) {
  test_jdbc_urls();
  test_bad_urls();
  test_defaults();
  test_aliases_and_overrides();
  test_redis_cluster_and_sharded_pubsub();
  test_errors_name_the_variable();
  test_eureka_knobs();
  CHECK_DONE();
}
