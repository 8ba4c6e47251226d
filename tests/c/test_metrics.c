/* core/metrics.c: the exposition text of the counters and the request histograms,
 * cumulative buckets, bounded label sets and label escaping. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static char *render(size_t *len) {
  chat_metrics_snapshot snap = {.version = "1.2.3", .scripts_version = "abc", .app_name = "chat-\"service\"",
                                .pg_size = 4, .resident_bytes = 4096, .virtual_bytes = -1, .open_fds = 7,
                                .max_fds = -1, .cpu_seconds = 0.5, .start_time_seconds = -1, .uptime_seconds = 2};
  return chat_metrics_render(&snap, len);
}

static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
  return 0;
}

static void test_counters_and_escaping(void) {
  chat_metrics_reset();
  chat_metrics.stomp_frames_in = 5;
  chat_metrics.websocket_connections = 2;
  chat_metrics_message_stored("CHAT");
  chat_metrics_message_stored("CHAT");
  chat_metrics_message_stored("JOIN");
  size_t len;
  char *t = render(&len);
  CHECK(t != NULL && strlen(t) == len && t[len - 1] == '\n');
  CHECK(has_line(t, "# TYPE chatd_stomp_frames_received_total counter"));
  CHECK(has_line(t, "chatd_stomp_frames_received_total 5"));
  CHECK(has_line(t, "chatd_connections{transport=\"websocket\"} 2"));
  CHECK(has_line(t, "chatd_messages_stored_total{type=\"CHAT\"} 2"));
  CHECK(has_line(t, "chatd_messages_stored_total{type=\"JOIN\"} 1"));
  CHECK(has_line(t, "chatd_build_info{version=\"1.2.3\",scripts=\"abc\",application=\"chat-\\\"service\\\"\"} 1"));
  CHECK(has_line(t, "chatd_pg_pool_size 4"));
  CHECK(has_line(t, "process_resident_memory_bytes 4096"));
  CHECK(strstr(t, "process_virtual_memory_bytes") == NULL); /* unknown: left out, not 0 */
  CHECK(strstr(t, "chatd_kafka_") == NULL);                 /* Kafka disabled */
  free(t);
}

static void test_request_histogram(void) {
  chat_metrics_reset();
  chat_metrics_observe_request("GET", "/api/chat/rooms/{chatRoomId}/messages", 200, 0.0005);
  chat_metrics_observe_request("GET", "/api/chat/rooms/{chatRoomId}/messages", 200, 0.003);
  chat_metrics_observe_request("GET", "/api/chat/rooms/{chatRoomId}/messages", 200, 0.3);
  chat_metrics_observe_request("GET", "/api/chat/rooms/{chatRoomId}/messages", 200, 2.0);
  chat_metrics_observe_request("GET", "/api/chat/rooms/{chatRoomId}/messages", 404, 0.002);
  size_t len;
  char *t = render(&len);
  const char *b = "chatd_http_server_requests_seconds_bucket{method=\"GET\",route=\"/api/chat/rooms/{chatRoomId}/messages\",status=\"200\",";
  char line[512];
  static const struct { const char *le; int n; } want[] = {{"0.001", 1}, {"0.005", 2}, {"0.01", 2}, {"0.25", 2},
                                                           {"0.5", 3},   {"1", 3},     {"+Inf", 4}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    snprintf(line, sizeof line, "%sle=\"%s\"} %d", b, want[i].le, want[i].n);
    if (!has_line(t, line)) fprintf(stderr, "missing: %s\n", line);
    CHECK(has_line(t, line));
  }
  CHECK(has_line(t, "chatd_http_server_requests_seconds_count{method=\"GET\",route=\"/api/chat/rooms/{chatRoomId}/messages\",status=\"200\"} 4"));
  CHECK(has_line(t, "chatd_http_server_requests_seconds_sum{method=\"GET\",route=\"/api/chat/rooms/{chatRoomId}/messages\",status=\"200\"} 2.3035"));
  CHECK(has_line(t, "chatd_http_server_requests_seconds_count{method=\"GET\",route=\"/api/chat/rooms/{chatRoomId}/messages\",status=\"404\"} 1"));
  free(t);
}

/* A bug that put raw paths in the route label must not grow the scrape without bound. */
static void test_series_are_bounded(void) {
  chat_metrics_reset();
  char route[64];
  for (int i = 0; i < 10000; i++) {
    snprintf(route, sizeof route, "/raw/%d", i);
    chat_metrics_observe_request("GET", route, 200, 0.001);
  }
  for (int i = 0; i < 100; i++) {
    snprintf(route, sizeof route, "T%d", i);
    chat_metrics_message_stored(route);
  }
  size_t len;
  char *t = render(&len);
  CHECK(len < 512 * 1024);
  CHECK(has_line(t, "chatd_http_server_requests_seconds_count{method=\"OTHER\",route=\"OTHER\",status=\"OTHER\"} 9745"));
  CHECK(has_line(t, "chatd_messages_stored_total{type=\"OTHER\"} 93"));
  free(t);
}

int main(void) {
  test_counters_and_escaping();
  test_request_histogram();
  test_series_are_bounded();
  CHECK_DONE();
}
