/* What chat-bench needs of Centrifugo's client protocol (JSON over WebSocket) and of its
 * server HTTP API: pure functions, bytes in, events out; the sockets are chat_bench.c's. */
#ifndef BENCH_CENTRIFUGO_H
#define BENCH_CENTRIFUGO_H

#include <stddef.h>
#include <stdint.h>

/* The command ids chat-bench uses: one connect and one subscribe per connection. */
enum { BENCH_CF_CONNECT_ID = 1, BENCH_CF_SUBSCRIBE_ID = 2 };

typedef enum {
  BENCH_CF_PING,        /* an empty object: the server's ping, to be answered with {} */
  BENCH_CF_CONNECTED,   /* the reply to the connect command */
  BENCH_CF_SUBSCRIBED,  /* the reply to the subscribe command */
  BENCH_CF_PUBLICATION, /* a push carrying a publication */
  BENCH_CF_ERROR,       /* a reply with an error, or a push that disconnects */
  BENCH_CF_OTHER        /* anything else (joins, leaves, replies to other commands) */
} bench_cf_event;

/* Called once per JSON object of a frame; `t_ns` is the publication data's "t" (its send
 * time, nanoseconds) or 0. Returns non-zero to stop. */
typedef int (*bench_cf_cb)(bench_cf_event ev, const char *json, size_t len, uint64_t t_ns, void *ud);

/* One WebSocket text frame may carry several replies and pushes, one per line. */
void bench_cf_frame(const char *data, size_t len, bench_cf_cb cb, void *ud);

/* The connect and subscribe commands, written into out (NUL-terminated); their length,
 * or 0 if cap is too small. */
size_t bench_cf_connect_command(char *out, size_t cap, const char *token);
size_t bench_cf_subscribe_command(char *out, size_t cap, const char *channel);

/* A keep-alive HTTP/1.1 POST of the server API's publish method (path is the API prefix,
 * e.g. "/api"); the request's length, or 0 if cap is too small. */
size_t bench_cf_publish_request(char *out, size_t cap, const char *host, int port, const char *path,
                                const char *api_key, const char *channel, const char *data_json);

/* Consumes the complete HTTP responses at the start of buf: a 200 whose body has no
 * "error" counts as ok, anything else as bad (the first such body is copied to err, at
 * most err_cap - 1 bytes). Returns the bytes consumed; a partial response stays. */
size_t bench_cf_http_responses(const char *buf, size_t len, uint64_t *ok, uint64_t *bad, char *err,
                               size_t err_cap);

#endif
