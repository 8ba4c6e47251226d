/* What librdkafka's statistics (statistics.interval.ms, a JSON document) say that the
 * consumer alone cannot know: the brokers it is connected to, and each assigned partition's
 * lag as the broker sees it (its high watermark less the group's committed offset), for
 * chatd_kafka_brokers_up and chatd_kafka_consumer_lag_records.
 *
 * Pure: the document is decoded by chatd's own strict JSON decoder into a private Lua
 * state made for the call, so tests/c/test_kafka_stats.c feeds it documents directly. */
#ifndef CHAT_KAFKA_STATS_H
#define CHAT_KAFKA_STATS_H

#include <stddef.h>
#include <stdint.h>

enum { CHAT_KAFKA_STATS_MAX_PARTITIONS = 64, CHAT_KAFKA_STATS_TOPIC_MAX = 128 };

typedef struct {
  char topic[CHAT_KAFKA_STATS_TOPIC_MAX];
  int partition;
  int64_t lag; /* records */
} chat_kafka_partition_lag;

typedef struct chat_kafka_stats {
  int brokers_up;
  size_t npartitions; /* partitions with a known lag; more than the maximum are left out */
  chat_kafka_partition_lag partitions[CHAT_KAFKA_STATS_MAX_PARTITIONS];
} chat_kafka_stats;

/* 0 with *out filled, or -1 when the text is not a statistics document. */
int chat_kafka_stats_read(const char *json, size_t len, chat_kafka_stats *out);

#endif
