/* librdkafka's statistics read for the metrics (core/kafka_stats.c): brokers up, and each
 * assigned partition's lag as the broker sees it; librdkafka's own "-1" partition and
 * unknown lags left out; a text that is no document refused. */
#include <string.h>

#include "check.h"
#include "kafka_stats.h"

int main(void) {
  static const char doc[] =
      "{\"name\":\"rdkafka#consumer-1\",\"type\":\"consumer\",\"brokers\":{"
      "\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"state\":\"UP\",\"rtt\":{\"avg\":120}},"
      "\"127.0.0.1:9093/2\":{\"state\":\"DOWN\"},"
      "\"GroupCoordinator\":{\"state\":\"UP\"}},"
      "\"topics\":{\"study.member.created\":{\"topic\":\"study.member.created\",\"partitions\":{"
      "\"0\":{\"partition\":0,\"consumer_lag\":42,\"hi_offset\":100,\"committed_offset\":58},"
      "\"1\":{\"partition\":1,\"consumer_lag\":-1},"
      "\"-1\":{\"partition\":-1,\"consumer_lag\":-1}}},"
      "\"other\":{\"partitions\":{\"3\":{\"consumer_lag\":0}}}}}";
  chat_kafka_stats st;
  CHECK(chat_kafka_stats_read(doc, strlen(doc), &st) == 0);
  CHECK(st.brokers_up == 2);
  CHECK(st.npartitions == 2);
  int seen = 0;
  for (size_t i = 0; i < st.npartitions; i++) {
    const chat_kafka_partition_lag *p = &st.partitions[i];
    if (strcmp(p->topic, "study.member.created") == 0 && p->partition == 0 && p->lag == 42) seen |= 1;
    if (strcmp(p->topic, "other") == 0 && p->partition == 3 && p->lag == 0) seen |= 2;
  }
  CHECK(seen == 3);

  static const char none[] = "{\"brokers\":{},\"topics\":{}}";
  CHECK(chat_kafka_stats_read(none, strlen(none), &st) == 0 && st.brokers_up == 0 && st.npartitions == 0);
  static const char bad[] = "{\"brokers\":";
  CHECK(chat_kafka_stats_read(bad, strlen(bad), &st) == -1 && st.npartitions == 0);
  static const char odd[] = "{\"brokers\":[1,2],\"topics\":{\"t\":{\"partitions\":{\"x\":{\"consumer_lag\":5},"
                            "\"2\":{\"consumer_lag\":\"5\"},\"4\":{\"consumer_lag\":1.5}}}}}";
  CHECK(chat_kafka_stats_read(odd, strlen(odd), &st) == 0 && st.npartitions == 0);
  CHECK_DONE();
}
