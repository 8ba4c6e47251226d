/* Metrics: the counters chatd keeps and their Prometheus text exposition (format 0.0.4,
 * served at /actuator/prometheus). docs/metrics.md lists every name.
 *
 * Counters on hot paths (frames, bytes, fan-out deliveries) are plain integers in one
 * global struct: the event loop is single-threaded, so an increment is one add, with no
 * lock, no atomic and no allocation. Gauges that another module already knows (pool
 * sizes, subscriptions, open connections) are not duplicated here: they are read from
 * their owner at scrape time into a chat_metrics_snapshot, so nothing on the hot path
 * maintains them. Labelled series (HTTP routes, message types) are registered once, on
 * first use, in fixed tables, so a scrape's size is bounded whatever the traffic. */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Why access was denied: the `reason` label of chatd_access_denied_total. */
typedef enum {
  CHAT_DENIED_UNAUTHENTICATED, /* no identity or a bad token: 401, STOMP CONNECT refused */
  CHAT_DENIED_FORBIDDEN,       /* an identity asking for what is not its own: 403, ERROR */
  CHAT_DENIED_INTERNAL,        /* the internal endpoint from outside */
  CHAT_DENIED_ORIGIN,          /* a browser origin outside CHAT_ALLOWED_ORIGINS */
  CHAT_DENIED_SESSION,         /* a request into another client's SockJS session */
  CHAT_DENIED_REASONS
} chat_access_denial;

/* How a history page was answered: the `outcome` label of
 * chatd_history_cache_requests_total (lua/chat/domain/history_cache.lua). */
typedef enum {
  CHAT_HISTORY_HIT,    /* the newest page from memory, its generation still current */
  CHAT_HISTORY_MISS,   /* read from PostgreSQL and kept */
  CHAT_HISTORY_BYPASS, /* read from PostgreSQL, not kept: no generation to check it by */
  CHAT_HISTORY_KEYSET, /* read from PostgreSQL after the previous page's kept last message */
  CHAT_HISTORY_OUTCOMES
} chat_history_outcome;

/* How a SEND to an /app destination ended: the `outcome` label of chatd_stomp_sends_total. */
typedef enum {
  CHAT_SEND_STORED,  /* done (stored and published): RECEIPT */
  CHAT_SEND_REFUSED, /* the client's fault: not a member, blank, forbidden, malformed */
  CHAT_SEND_FAILED,  /* the server's: a dependency down, a script error */
  CHAT_SEND_OUTCOMES
} chat_send_outcome;

typedef struct chat_metrics_counters {
  uint64_t stomp_frames_in;    /* STOMP frames received (heart-beats excluded) */
  uint64_t stomp_frames_out;   /* STOMP frames sent, MESSAGE deliveries included */
  uint64_t stomp_bytes_in;     /* bytes of the STOMP stream received, heart-beats included */
  uint64_t stomp_bytes_out;    /* bytes of STOMP frames sent, before transport framing */
  uint64_t stomp_deliveries;   /* MESSAGE frames sent to subscriptions (fan-out) */
  uint64_t stomp_slow_consumers; /* sessions dropped for not keeping up */
  uint64_t stomp_resumes;            /* subscriptions resumed with last-message-id */
  uint64_t stomp_replayed_messages;  /* messages those resumes replayed from PostgreSQL */
  uint64_t stomp_duplicates_skipped; /* chat messages a destination had been given already */
  uint64_t redis_catch_ups;          /* catch-ups after the Redis Pub/Sub link was down */
  uint64_t redis_caught_up_messages; /* messages they delivered from PostgreSQL */
  uint64_t redis_unrouted;           /* chat messages from Redis for a room without local subscribers */
  uint64_t http_bytes_in;      /* bytes read from client sockets, every protocol */
  uint64_t http_bytes_out;     /* bytes handed to client socket writes, every protocol */
  uint64_t http_connections_accepted;
  uint64_t http_connections_refused; /* over CHAT_MAX_CONNECTIONS: answered 503 and closed */
  uint64_t sockjs_sessions_refused;  /* over CHAT_SOCKJS_MAX_SESSIONS */
  uint64_t stomp_limit_errors;       /* sessions closed for a limit: rate, subscriptions */
  uint64_t access_denied[5];         /* by reason (chat_access_denial below) (docs/access-control.md) */
  uint64_t history_cache[CHAT_HISTORY_OUTCOMES]; /* history pages by outcome (chat_history_outcome) */
  uint64_t stomp_sends[3];           /* SENDs to /app destinations by outcome (chat_send_outcome) */
  uint64_t jwks_fetch_failures;      /* key set fetches that failed (CHAT_JWT_JWKS_URL) */
  double jwks_last_success;          /* wall-clock seconds of the last fetch that worked; 0: none */
  int64_t websocket_connections; /* raw WebSocket connections carrying STOMP, open now */
} chat_metrics_counters;

extern chat_metrics_counters chat_metrics;

/* One HTTP request answered by the application: `route` is the route's pattern
 * ("/api/chat/rooms/{chatRoomId}/messages"), never the raw path, or a fixed word such as
 * "NOT_FOUND" when nothing matched (as Micrometer tags it). */
void chat_metrics_observe_request(const char *method, const char *route, int status, double seconds);

/* The label of each denial; NULL-terminated, in enum order. */
extern const char *const chat_access_denial_names[];

/* The label of each history cache outcome; NULL-terminated, in enum order. */
extern const char *const chat_history_outcome_names[];

/* The label of each SEND outcome; NULL-terminated, in enum order. */
extern const char *const chat_send_outcome_names[];

/* A SEND answered, `seconds` after its frame was read (chatd_stomp_send_seconds). */
void chat_metrics_observe_send(double seconds);

/* A Kafka record dead-lettered to `topic` (chatd_kafka_dead_letters_total{topic}). */
void chat_metrics_dead_letter(const char *topic);

/* One chat message stored, by its type ("CHAT", "JOIN", "LEAVE"). */
void chat_metrics_message_stored(const char *type);

enum { CHAT_METRICS_MAX_REDIS_LINKS = 64 };

/* What other modules know, read at scrape time. */
typedef struct chat_metrics_snapshot {
  const char *version;          /* chatd's version */
  const char *scripts_version;  /* hash of the Lua scripts serving now */
  const char *app_name;         /* SPRING_APPLICATION_NAME */
  int stopping;                 /* a graceful stop has begun */
  size_t connections_http;      /* TCP connections not upgraded (REST, SockJS polling) */
  size_t sockjs_sessions;       /* SockJS sessions not ended yet */
  size_t stomp_sessions;
  size_t stomp_subscriptions;
  size_t stomp_destinations;
  int pg_size, pg_connected;
  size_t pg_queued, pg_in_flight, pg_pinned;
  int redis_connected, redis_pubsub_connected;
  /* Redis Pub/Sub (core/redis_pubsub.h) and Cluster (core/redis_cluster.h). */
  size_t redis_room_channels, redis_global_channels;
  unsigned long redis_room_messages, redis_global_messages, redis_pubsub_stalls;
  int redis_cluster; /* 0: one Redis, the cluster figures below are absent */
  unsigned long redis_cluster_redirects, redis_cluster_topology_changes;
  size_t redis_links; /* node links below: masters (commands) and Pub/Sub links */
  struct {
    const char *host, *link; /* link: "command" or "pubsub" */
    int port, up;
  } redis_link[CHAT_METRICS_MAX_REDIS_LINKS];
  /* Connections dropped, or produce requests failed, because a dependency went silent. */
  unsigned long pg_statement_timeouts, pg_connect_timeouts, redis_timeouts, kafka_produce_timeouts;
  int ready;                /* what readiness answers: PostgreSQL connected, not stopping */
  size_t connections_limit, sockjs_sessions_limit;
  int jwks_enabled;
  int kafka_enabled;
  const struct chat_kafka_stats *kafka_stats; /* brokers up and lag by partition; NULL: none yet */
  int kafka_assigned_partitions;
  size_t kafka_backlog;
  int lua_tasks;
  uint64_t reloads, reloads_failed;
  int scripts_rejected;
  double uptime_seconds;
  /* The process, from /proc (process_stats.h); negative when unknown. */
  double resident_bytes, virtual_bytes, open_fds, max_fds, cpu_seconds, start_time_seconds;
} chat_metrics_snapshot;

/* The whole exposition text, malloc'ed (the caller frees it); NULL when out of memory. */
char *chat_metrics_render(const chat_metrics_snapshot *snap, size_t *len);

/* Forgets every counter and series (unit tests). */
void chat_metrics_reset(void);

#endif
