/* Kafka: a librdkafka consumer and producer bridged into the libuv loop (librdkafka's
 * queue event fd wakes a uv_poll; all callbacks then run on the loop thread).
 *
 * Records are handed to the application one at a time per partition, in order; other
 * partitions keep flowing while one waits (a retry sleeps in its task). A partition
 * whose backlog grows is paused and resumed when it drains. An offset is committed only
 * after the application finished the record (handled or dead-lettered). */
#ifndef CHAT_KAFKA_H
#define CHAT_KAFKA_H

#include <stddef.h>
#include <uv.h>

struct chat_runtime;
typedef struct chat_kafka chat_kafka;

/* session_timeout_ms: how long the group waits for a member that vanished without
 * leaving (a killed pod) before its partitions move. */
chat_kafka *chat_kafka_new(struct chat_runtime *rt, const char *bootstrap, const char *group, int session_timeout_ms);

/* Subscribes to the topics (replacing earlier ones); called after every reload. */
void chat_kafka_subscribe(chat_kafka *k, char **topics);

typedef void (*chat_kafka_delivery_cb)(const char *err, void *ud);
typedef struct chat_kafka_header {
  const char *name;
  const void *value;
  size_t len;
} chat_kafka_header;

/* Produces a record; cb runs on the loop once the broker acknowledged it (err NULL) or
 * it failed. Returns -1 (cb not called) when it could not even be queued. */
int chat_kafka_produce(chat_kafka *k, const char *topic, const void *key, size_t key_len, const void *value,
                       size_t value_len, const chat_kafka_header *headers, size_t nheaders, chat_kafka_delivery_cb cb,
                       void *ud);

/* For /actuator/health: partitions assigned, records waiting, and the last error. */
void chat_kafka_state(const chat_kafka *k, int *assigned, size_t *backlog, const char **last_error);

/* The consumer's latest librdkafka statistics (brokers up, lag by partition), NULL before
 * the first (every 5 s). */
struct chat_kafka_stats;
const struct chat_kafka_stats *chat_kafka_stats_latest(const chat_kafka *k);

/* Leaves the group (committing nothing new) and frees; on_closed runs when done. */
void chat_kafka_close(chat_kafka *k, void (*on_closed)(void *ud), void *ud);

/* Produce requests that failed because the broker did not acknowledge them in time
 * (CHAT_KAFKA_PRODUCE_TIMEOUT_MS). */
unsigned long chat_kafka_produce_timeouts(const chat_kafka *k);

#endif
