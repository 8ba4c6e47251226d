/* chat-bench: a load generator on libuv for chatd and the servers it is compared with:
 * STOMP over WebSocket (chatd, RabbitMQ Web-STOMP, the original Spring service), reusing
 * chatd's own STOMP parser and encoder, and Centrifugo's JSON protocol (bench_centrifugo.c).
 *
 *   chat-bench connections --url ws://127.0.0.1:8084/ws-chat -n 5000 --pid PID
 *   chat-bench fanout --url ... -n 1000 --rate 200 --seconds 10 [--setup-timeout 60] \
 *       [--redis 127.0.0.1:6379 --room 1] [--login guest --passcode guest --vhost /]
 *   chat-bench fanout --url ws://..a --url2 ws://..b -n 400 --rooms 100 --room FIRST --member-base B --rate 500
 *       (persisted: members B+i of rooms FIRST + i % rooms send through /app/chat.sendMessage)
 *   chat-bench fanout --protocol centrifugo --url ws://127.0.0.1:8000/connection/websocket \
 *       --dest CHANNEL --api http://127.0.0.1:8000/api [--api-key KEY] -n 1000 --rate 200
 *
 *   chat-bench connections --url ... -n 15000 --sources 4 --source-base 5 --hold 10 [--setup-timeout S]
 *   any run: --token JWT sends "Authorization: Bearer JWT" with every CONNECT (CHAT_AUTH=jwt;
 *       with --protocol centrifugo, the connect command's token)
 *   any run: --cpu-pid PID (repeatable: the server's processes), --db-pid PID (repeatable:
 *       PostgreSQL's) add the CPU they used over the measured window to the result line
 *       (server_cpu_pct, db_cpu_pct, % of one core), with chat-bench's own (client_cpu_pct)
 *   any fanout run: --timeline FILE writes one line per second of publishing: messages sent,
 *       deliveries of the messages sent in that second, sends refused (by arrival second),
 *       the longest latency of those deliveries (µs): where a tail comes from
 *   --no-receipt: for a STOMP server that sends no RECEIPT (the original's simple broker):
 *       a subscription counts once its first MESSAGE arrives: once every SUBSCRIBE is sent,
 *       a probe message goes to each room through --redis chat:messages, then one a second
 *       until every subscriber has had one (probes are not counted as deliveries)
 *
 * connections: opens n connections (CONNECT + SUBSCRIBE each), reports the CONNECT rate
 *   and, with --pid, the server's resident memory per connection (VmRSS before/after);
 *   with --hold S keeps them open S seconds after reporting (several client processes
 *   against several chatd processes), then reports how many the server dropped.
 * fanout: n subscribers on one destination; messages carrying their send time are
 *   published at --rate per second, by the first of: the members themselves through
 *   /app/chat.sendMessage (--member-base), Redis PUBLISH chat:messages (--redis: chatd's
 *   and the original's path between instances), Centrifugo's server HTTP API (--api),
 *   else a publisher client's STOMP SEND to the destination (a plain broker); reports
 *   deliveries per second and send-to-receive latency percentiles. Persisted senders also
 *   subscribe to /user/queue/errors and count refused sends as `rejected` (as are API
 *   publishes the server refused).
 * Source addresses rotate over 127.0.0.B..B+x-1 (--source-base B, --sources x) because one
 * address has only ~28,000 ephemeral ports, shared by every process binding it. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench_centrifugo.h"
#include "stomp.h"

typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  int index;
  int state; /* 0 connecting, 1 handshake sent, 2 websocket, 3 connected (STOMP/Centrifugo), 4 subscribed */
  char *in;
  size_t in_len, in_cap;
  chat_stomp_parser *parser;
  int is_publisher;
} client;

static struct {
  const char *host, *path, *dest, *login, *passcode, *vhost, *redis, *scenario, *timeline, *token, *api_key;
  int port, port2, n, rate, seconds, sources, source_base, hold, setup_timeout, pid, persist, rooms,
      centrifugo, no_receipt;
  long room, member_base;
  /* Centrifugo's server HTTP API (--api http://host:port/prefix). */
  char api_host[64], api_path[256];
  int api_port;
} opt = {.host = "127.0.0.1", .path = "/ws-chat", .dest = NULL, .vhost = "/", .n = 100, .rate = 100, .seconds = 10,
         .sources = 1, .source_base = 1, .room = 1, .rooms = 1};

static uv_loop_t *loop;
static client **clients;
static int connected, subscribed, failed, dropped, rejected;
static int subscribes_sent; /* --no-receipt: SUBSCRIBEs written (probes start once all are) */
static uint64_t t_start_ns, t_all_subscribed_ns, deliveries, sent;
static redisContext *redis;
static client *publisher;
static uv_timer_t pub_timer, stop_timer, end_timer;

/* Per publishing second, for --timeline: a soak run shows where deliveries fell short. */
typedef struct {
  uint64_t sent, delivered, refused, max_us;
} second_counts;
static second_counts *timeline;
static uint64_t t_publish_ns;

static second_counts *timeline_at(uint64_t ns) {
  if (timeline == NULL || ns < t_publish_ns) return NULL;
  uint64_t s = (ns - t_publish_ns) / 1000000000u;
  return s < (uint64_t)opt.seconds + 5 ? &timeline[s] : NULL;
}

/* Latency histogram: log-linear buckets from 1 µs to ~100 s, 1% resolution. */
enum { BUCKETS = 2000 };
static uint64_t hist[BUCKETS];
static int bucket_of(double us) { return us < 1 ? 0 : (int)(log(us) / log(1.01)) % BUCKETS; }
static double bucket_value(int b) { return pow(1.01, b); }

static double percentile(double p) {
  uint64_t total = 0;
  for (int i = 0; i < BUCKETS; i++) total += hist[i];
  if (total == 0) return 0;
  uint64_t want = (uint64_t)ceil(p / 100.0 * (double)total), seen = 0;
  for (int i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= want) return bucket_value(i);
  }
  return bucket_value(BUCKETS - 1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Who was the limit: the CPU the server processes (--cpu-pid), the database (--db-pid) and
 * chat-bench itself used over the measured window (connections: from the first connect to
 * the report; fanout: from the first publish to the end of the drain), in % of one core. */
enum { MAX_PIDS = 64 };
static int cpu_pids[MAX_PIDS], n_cpu_pids, db_pids[MAX_PIDS], n_db_pids;
static struct {
  double server, db, client;
  uint64_t ns;
} window;

static double seconds_of(const int *pids, int n) {
  double ticks = 0;
  for (int i = 0; i < n; i++) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *after = strrchr(buf, ')');
    unsigned long utime, stime;
    if (after && sscanf(after + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
      ticks += (double)(utime + stime);
  }
  return ticks / (double)sysconf(_SC_CLK_TCK);
}

static double own_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static void window_begin(void) {
  window.server = seconds_of(cpu_pids, n_cpu_pids);
  window.db = seconds_of(db_pids, n_db_pids);
  window.client = own_seconds();
  window.ns = now_ns();
}

static void window_print(void) {
  double wall = (double)(now_ns() - window.ns) / 1e9;
  if (wall <= 0 || window.ns == 0) return;
  if (n_cpu_pids) printf(" server_cpu_pct=%.0f", 100 * (seconds_of(cpu_pids, n_cpu_pids) - window.server) / wall);
  if (n_db_pids) printf(" db_cpu_pct=%.0f", 100 * (seconds_of(db_pids, n_db_pids) - window.db) / wall);
  printf(" client_cpu_pct=%.0f", 100 * (own_seconds() - window.client) / wall);
}

static long rss_kb(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

/* ---- writing: masked client frames ---- */

static void written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static void ws_send_op(client *c, int opcode, const char *data, size_t len) {
  size_t hdr = len < 126 ? 6 : len < 65536 ? 8 : 14;
  unsigned char *buf = malloc(hdr + len);
  buf[0] = (unsigned char)(0x80 | opcode);
  size_t o;
  if (len < 126) {
    buf[1] = (unsigned char)(0x80 | len);
    o = 2;
  } else if (len < 65536) {
    buf[1] = 0x80 | 126;
    buf[2] = (unsigned char)(len >> 8);
    buf[3] = (unsigned char)len;
    o = 4;
  } else {
    buf[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) buf[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    o = 10;
  }
  static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  memcpy(buf + o, mask, 4);
  o += 4;
  for (size_t i = 0; i < len; i++) buf[o + i] = (unsigned char)data[i] ^ mask[i % 4];
  uv_write_t *w = malloc(sizeof *w);
  w->data = buf;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)(hdr + len));
  uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, written);
}

static void ws_send(client *c, const char *data, size_t len) { ws_send_op(c, 0x1, data, len); }

static void stomp_send(client *c, const char *command, const char *const *headers, const char *body) {
  size_t len;
  char *frame = chat_stomp_encode_frame(CHAT_STOMP_V12, command, headers, body, body ? strlen(body) : 0, &len);
  ws_send(c, frame, len);
  free(frame);
}

/* ---- reading ---- */

static void maybe_start_publishing(void);

static void mark_subscribed(client *c) {
  c->state = 4;
  if (++subscribed == opt.n) {
    t_all_subscribed_ns = now_ns();
    maybe_start_publishing();
  }
}

static void count_delivery(uint64_t sent_ns) {
  deliveries++;
  if (sent_ns == 0) return;
  uint64_t now = now_ns();
  if (now > sent_ns) hist[bucket_of((double)(now - sent_ns) / 1000.0)]++;
  second_counts *sc = timeline_at(sent_ns);
  if (sc) {
    sc->delivered++;
    if (now > sent_ns && (now - sent_ns) / 1000 > sc->max_us) sc->max_us = (now - sent_ns) / 1000;
  }
}

static int on_frame(const chat_stomp_frame *f, void *ud) {
  client *c = ud;
  if (f == NULL) return 0;
  if (strcmp(f->command, "CONNECTED") == 0) {
    c->state = 3;
    char id[16], dest[64];
    snprintf(id, sizeof id, "%d", c->index);
    /* Several rooms: client i is a member of room (first + i % rooms). */
    if (opt.rooms > 1) snprintf(dest, sizeof dest, "/topic/chatroom/%ld", opt.room + c->index % opt.rooms);
    const char *h[] = {"id", id, "destination", opt.rooms > 1 ? dest : opt.dest, "receipt", "sub", NULL};
    /* Senders also listen on their error queue: a refused send is counted, not missed. */
    const char *errors[] = {"id", "errors", "destination", "/user/queue/errors", NULL};
    if (opt.persist) stomp_send(c, "SUBSCRIBE", errors, NULL);
    if (c->is_publisher) maybe_start_publishing();
    else {
      stomp_send(c, "SUBSCRIBE", h, NULL);
      subscribes_sent++;
    }
  } else if (strcmp(f->command, "RECEIPT") == 0) {
    if (c->state == 3) mark_subscribed(c);
  } else if (strcmp(f->command, "MESSAGE") == 0) {
    const char *d = chat_stomp_frame_header(f, "destination");
    if (d && strstr(d, "/queue/errors")) {
      if (rejected++ < 5) fprintf(stderr, "client %d: send refused: %.200s\n", c->index, f->body);
      second_counts *sc = timeline_at(now_ns());
      if (sc) sc->refused++;
      return 0;
    }
    /* Without receipts, the first message (a probe, normally) confirms the subscription. */
    if (opt.no_receipt && c->state == 3) mark_subscribed(c);
    if (strstr(f->body, "\"content\":\"probe\"")) return 0;
    const char *t = strstr(f->body, "\"t\":");
    if (t == NULL) t = strstr(f->body, "t=");
    count_delivery(t ? strtoull(t + (t[1] == '=' ? 2 : 4), NULL, 10) : 0);
  } else if (strcmp(f->command, "ERROR") == 0) {
    const char *m = chat_stomp_frame_header(f, "message");
    fprintf(stderr, "client %d: ERROR %s\n", c->index, m ? m : "");
    failed++;
  }
  return 0;
}

static int on_centrifugo(bench_cf_event ev, const char *json, size_t len, uint64_t t_ns, void *ud) {
  client *c = ud;
  char cmd[256];
  switch (ev) {
    case BENCH_CF_PING: ws_send(c, "{}", 2); break;
    case BENCH_CF_CONNECTED:
      c->state = 3;
      ws_send(c, cmd, bench_cf_subscribe_command(cmd, sizeof cmd, opt.dest));
      break;
    case BENCH_CF_SUBSCRIBED:
      if (c->state == 3) mark_subscribed(c);
      break;
    case BENCH_CF_PUBLICATION: count_delivery(t_ns); break;
    case BENCH_CF_ERROR:
      fprintf(stderr, "client %d: %.*s\n", c->index, (int)(len < 300 ? len : 300), json);
      failed++;
      break;
    case BENCH_CF_OTHER: break;
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  static char slab[65536];
  (void)suggested;
  *buf = uv_buf_init(slab, sizeof slab);
}

/* Server frames are unmasked: header, payload; we only need text/binary payloads. */
static void consume_frames(client *c) {
  size_t off = 0;
  while (c->in_len - off >= 2) {
    unsigned char *p = (unsigned char *)c->in + off;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (c->in_len - off < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (c->in_len - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (c->in_len - off < hdr + len) break;
    int opcode = p[0] & 0x0f;
    if ((opcode == 1 || opcode == 2) && opt.centrifugo)
      bench_cf_frame((const char *)p + hdr, (size_t)len, on_centrifugo, c);
    else if (opcode == 1 || opcode == 2) {
      const char *err = NULL;
      chat_stomp_parser_feed(c->parser, (const char *)p + hdr, (size_t)len, on_frame, c, &err);
    } else if (opcode == 9) ws_send_op(c, 0xA, (const char *)p + hdr, (size_t)len); /* ping: pong */
    off += hdr + (size_t)len;
  }
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  client *c = s->data;
  if (n <= 0) {
    if (n < 0 && c->state < 4) {
      static int told;
      if (told++ < 5)
        fprintf(stderr, "client %d: %s before its subscription was confirmed\n", c->index, uv_strerror((int)n));
      failed++;
    } else if (n < 0) dropped++; /* a subscribed connection the server closed */
    return;
  }
  if (c->in_len + (size_t)n > c->in_cap) {
    c->in_cap = (c->in_len + (size_t)n) * 2;
    c->in = realloc(c->in, c->in_cap);
  }
  memcpy(c->in + c->in_len, buf->base, (size_t)n);
  c->in_len += (size_t)n;
  if (c->state == 1) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (end == NULL) return;
    if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "client %d: handshake refused\n", c->index);
      failed++;
      return;
    }
    size_t used = (size_t)(end + 4 - c->in);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->state = 2;
    connected++;
    if (opt.centrifugo) {
      static char command[8192];
      ws_send(c, command, bench_cf_connect_command(command, sizeof command, opt.token));
    } else {
      static char bearer[8192];
      if (opt.token && bearer[0] == '\0') snprintf(bearer, sizeof bearer, "Bearer %s", opt.token);
      const char *h[16] = {"accept-version", "1.2", "host", opt.vhost, "heart-beat", "0,0"}, **next = h + 6;
      if (opt.token) *next++ = "Authorization", *next++ = bearer;
      if (opt.login) *next++ = "login", *next++ = opt.login, *next++ = "passcode", *next++ = opt.passcode;
      stomp_send(c, "CONNECT", h, NULL);
    }
  }
  consume_frames(c);
}

static void on_connected(uv_connect_t *req, int status) {
  client *c = req->data;
  if (status < 0) {
    fprintf(stderr, "client %d: %s\n", c->index, uv_strerror(status));
    failed++;
    return;
  }
  char hs[512];
  int n = snprintf(hs, sizeof hs,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   opt.path, opt.host, opt.port,
                   opt.centrifugo ? "" : "Sec-WebSocket-Protocol: v12.stomp\r\n");
  uv_write_t *w = malloc(sizeof *w);
  w->data = malloc((size_t)n);
  memcpy(w->data, hs, (size_t)n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, written);
  c->state = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static client *open_client(int index, int is_publisher) {
  client *c = calloc(1, sizeof *c);
  c->index = index;
  c->is_publisher = is_publisher;
  chat_stomp_limits lim = {1 << 20, 64};
  c->parser = chat_stomp_parser_new(&lim);
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  char src[32];
  snprintf(src, sizeof src, "127.0.0.%d", opt.source_base + index % opt.sources);
  struct sockaddr_in local, remote;
  uv_ip4_addr(src, 0, &local);
  uv_tcp_bind(&c->tcp, (struct sockaddr *)&local, 0);
  /* With a second server, clients alternate between the two (two pods sharing Redis). */
  /* Two instances: a room's members (i, i + rooms, i + 2 rooms, ...) alternate between
   * them, so every message crosses from one instance to the other through Redis. */
  uv_ip4_addr(opt.host, opt.port2 && (index / opt.rooms) % 2 ? opt.port2 : opt.port, &remote);
  c->connect_req.data = c;
  uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&remote, on_connected);
  return c;
}

/* ---- publishing ---- */

/* Centrifugo's server HTTP API: one keep-alive connection, requests written as they are
 * due (pipelined), replies counted as they come; a refused publish counts as rejected. */
static struct {
  uv_tcp_t tcp;
  uv_connect_t req;
  int ready;
  char *in;
  size_t in_len, in_cap;
  uint64_t ok, bad;
  char err[256];
} api;

static void api_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  if (n < 0) {
    fprintf(stderr, "API connection: %s\n", uv_strerror((int)n));
    api.ready = 0;
    failed++;
    return;
  }
  if (api.in_len + (size_t)n > api.in_cap) {
    api.in_cap = (api.in_len + (size_t)n) * 2;
    api.in = realloc(api.in, api.in_cap);
  }
  memcpy(api.in + api.in_len, buf->base, (size_t)n);
  api.in_len += (size_t)n;
  uint64_t bad_before = api.bad;
  size_t used = bench_cf_http_responses(api.in, api.in_len, &api.ok, &api.bad, api.err, sizeof api.err);
  memmove(api.in, api.in + used, api.in_len - used);
  api.in_len -= used;
  if (bad_before == 0 && api.bad > 0) fprintf(stderr, "API refused a publish: %s\n", api.err);
  rejected += (int)(api.bad - bad_before);
}

static void api_connected(uv_connect_t *req, int status) {
  (void)req;
  if (status < 0) {
    fprintf(stderr, "API %s:%d: %s\n", opt.api_host, opt.api_port, uv_strerror(status));
    failed++;
    return;
  }
  api.ready = 1;
  uv_read_start((uv_stream_t *)&api.tcp, on_alloc, api_read);
  maybe_start_publishing();
}

static void api_open(void) {
  struct sockaddr_in remote;
  uv_tcp_init(loop, &api.tcp);
  uv_tcp_nodelay(&api.tcp, 1);
  uv_ip4_addr(opt.api_host, opt.api_port, &remote);
  uv_tcp_connect(&api.req, &api.tcp, (struct sockaddr *)&remote, api_connected);
}

static void api_publish(const char *data_json) {
  char req[2048];
  size_t n = bench_cf_publish_request(req, sizeof req, opt.api_host, opt.api_port, opt.api_path, opt.api_key,
                                      opt.dest, data_json);
  if (n == 0) return;
  uv_write_t *w = malloc(sizeof *w);
  w->data = malloc(n);
  memcpy(w->data, req, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  uv_write(w, (uv_stream_t *)&api.tcp, &b, 1, written);
}

/* --no-receipt: once every client has sent its SUBSCRIBE, a probe to each room through
 * Redis chat:messages (the way the original's instances pass messages to each other), and
 * again every second until every subscription has seen one. Not more often: each probe
 * reaches every subscriber, and a server flooded by probes is not measuring anything. */
static uv_timer_t probe_timer;
static uint64_t last_probe_ns;

static void probe(uv_timer_t *t) {
  if (subscribed >= opt.n || uv_is_active((uv_handle_t *)&pub_timer)) {
    uv_timer_stop(t);
    return;
  }
  uint64_t now = now_ns();
  if (subscribes_sent + failed < opt.n || now - last_probe_ns < 1000000000u) return;
  last_probe_ns = now;
  for (int r = 0; r < opt.rooms; r++) {
    redisReply *reply = redisCommand(
        redis,
        "PUBLISH chat:messages [\"com.grow.chat.dto.ChatMessagePublish\",{\"chatRoomId\":%ld,"
        "\"id\":0,\"senderId\":1,\"senderNickname\":\"bench\",\"content\":\"probe\","
        "\"messageType\":\"CHAT\",\"createdAt\":\"2025-01-09T00:00:00\"}]",
        opt.room + r);
    if (reply) freeReplyObject(reply);
  }
}

/* Paced by the clock, not by counting ticks: a tick publishes whatever is due since the
 * start, so a late or busy loop catches up instead of silently offering less. */
static uint64_t publish_start_ns, attempts;

static void publish_one(uv_timer_t *t);

static void publish_tick(uv_timer_t *t) {
  if (publish_start_ns == 0) publish_start_ns = now_ns();
  uint64_t due = (now_ns() - publish_start_ns) * (uint64_t)opt.rate / 1000000000u + 1;
  for (; attempts < due; attempts++) publish_one(t);
}

static void publish_one(uv_timer_t *t) {
  (void)t;
  char body[256];
  uint64_t ts = now_ns();
  if (opt.persist) {
    /* Persisted path: a member's SEND to /app/chat.sendMessage (stored, then fanned out
     * through Redis by every instance). Senders take turns. */
    static int next;
    client *c = clients[next++ % opt.n];
    if (c->state < 4) return;
    long room = opt.room + c->index % opt.rooms;
    snprintf(body, sizeof body,
             "{\"chatRoomId\":%ld,\"senderId\":%ld,\"senderNickname\":\"bench\",\"content\":\"t=%llu\",\"messageType\":\"CHAT\"}",
             room, opt.member_base + c->index, (unsigned long long)ts);
    const char *h[] = {"destination", "/app/chat.sendMessage", NULL};
    stomp_send(c, "SEND", h, body);
  } else if (redis) {
    /* chatd's cross-instance path: every instance delivers what arrives on chat:messages,
     * published as the original and chatd do: Jackson's wrapper array, class name first. */
    snprintf(body, sizeof body,
             "[\"com.grow.chat.dto.ChatMessagePublish\",{\"chatRoomId\":%ld,\"id\":%llu,\"senderId\":1,"
             "\"senderNickname\":\"bench\",\"content\":\"t=%llu\",\"messageType\":\"CHAT\",\"createdAt\":\"2025-01-09T00:00:00\"}]",
             opt.room, (unsigned long long)sent, (unsigned long long)ts);
    redisReply *r = redisCommand(redis, "PUBLISH chat:messages %s", body);
    if (r) freeReplyObject(r);
  } else if (opt.api_port) {
    snprintf(body, sizeof body, "{\"t\":%llu,\"n\":%llu}", (unsigned long long)ts, (unsigned long long)sent);
    api_publish(body);
  } else {
    snprintf(body, sizeof body, "{\"t\":%llu,\"n\":%llu}", (unsigned long long)ts, (unsigned long long)sent);
    const char *h[] = {"destination", opt.dest, "content-type", "application/json", NULL};
    stomp_send(publisher, "SEND", h, body);
  }
  sent++;
  second_counts *sc = timeline_at(ts);
  if (sc) sc->sent++;
}

static void stop_publishing(uv_timer_t *t) {
  (void)t;
  uv_timer_stop(&pub_timer);
}

static void finish(uv_timer_t *t) {
  (void)t;
  uv_stop(loop);
}

static int setup_expired;

static void maybe_start_publishing(void) {
  if (strcmp(opt.scenario, "fanout") != 0 || (subscribed < opt.n && !setup_expired)) return;
  if (opt.api_port && !opt.persist && !redis && !api.ready) return;
  if (!redis && !opt.persist && !opt.api_port && (publisher == NULL || publisher->state < 3)) return;
  if (uv_is_active((uv_handle_t *)&pub_timer)) return;
  if (opt.rate <= 0) opt.rate = 1;
  uint64_t every_ms = opt.rate >= 1000 ? 1 : 1000 / (uint64_t)opt.rate;
  uv_timer_start(&pub_timer, publish_tick, 100, every_ms);
  t_publish_ns = now_ns() + 100 * 1000000u;
  window_begin();
  uv_timer_start(&stop_timer, stop_publishing, (uint64_t)opt.seconds * 1000 + 100, 0);
  /* Two more seconds for the last messages to arrive before counting. */
  uv_timer_start(&end_timer, finish, (uint64_t)opt.seconds * 1000 + 2100, 0);
}

static long rss_before = -1;
static int reported;

static void report_connections(void) {
  if (reported++) return;
  double setup_s = (double)((t_all_subscribed_ns ? t_all_subscribed_ns : now_ns()) - t_start_ns) / 1e9;
  long rss_after = opt.pid ? rss_kb(opt.pid) : -1;
  printf("scenario=connections connections=%d failed=%d dropped=%d seconds=%.2f connect_rate=%.0f/s", subscribed,
         failed, dropped, setup_s, subscribed / setup_s);
  if (opt.pid)
    printf(" rss_before_kb=%ld rss_after_kb=%ld bytes_per_connection=%.0f", rss_before, rss_after,
           subscribed ? (double)(rss_after - rss_before) * 1024.0 / subscribed : 0);
  window_print();
  printf("\n");
  fflush(stdout);
}

static uv_timer_t hold_timer;

/* connections: done once every client is subscribed or failed; with --hold the
 * connections stay open that long after the report (several client processes measured
 * together), and the ones the server dropped meanwhile are reported. */
/* fanout: a broker that refuses or loses some subscribers still gets measured, with the
 * ones it kept, after --setup-timeout seconds (the refusals are counted as failed).
 * connections, with --setup-timeout: the clients not subscribed by then count as failed,
 * so a server that leaves connections hanging still gets a report. */
static void on_setup_timeout(uv_timer_t *t) {
  (void)t;
  if (strcmp(opt.scenario, "connections") == 0) {
    int pending = opt.n - subscribed - failed;
    if (pending > 0) fprintf(stderr, "%d connections not subscribed after the setup timeout\n", pending);
    if (pending > 0) failed += pending;
    return;
  }
  if (subscribed == 0) {
    fprintf(stderr, "no subscriber after the setup timeout\n");
    uv_stop(loop);
    return;
  }
  setup_expired = 1;
  maybe_start_publishing();
  if (!uv_is_active((uv_handle_t *)&pub_timer)) {
    fprintf(stderr, "cannot publish: the publisher is not connected\n");
    uv_stop(loop);
  }
}

static void on_progress(uv_timer_t *t) {
  if (strcmp(opt.scenario, "connections") != 0 || subscribed + failed < opt.n) return;
  uv_timer_stop(t);
  report_connections();
  if (opt.hold > 0) uv_timer_start(&hold_timer, finish, (uint64_t)opt.hold * 1000, 0);
  else uv_stop(loop);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: chat-bench connections|fanout --url ws://host:port/path [options]\n");
    return 2;
  }
  opt.scenario = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--url")) {
      static char host[64], path[256];
      if (sscanf(v, "ws://%63[^:]:%d%255s", host, &opt.port, path) < 2) return fprintf(stderr, "bad --url\n"), 2;
      opt.host = host;
      opt.path = path[0] ? path : "/";
      i++;
    } else if (!strcmp(a, "-n")) opt.n = atoi(v), i++;
    else if (!strcmp(a, "--rate")) opt.rate = atoi(v), i++;
    else if (!strcmp(a, "--seconds")) opt.seconds = atoi(v), i++;
    else if (!strcmp(a, "--sources")) opt.sources = atoi(v), i++;
    else if (!strcmp(a, "--source-base")) opt.source_base = atoi(v), i++;
    else if (!strcmp(a, "--hold")) opt.hold = atoi(v), i++;
    else if (!strcmp(a, "--setup-timeout")) opt.setup_timeout = atoi(v), i++;
    else if (!strcmp(a, "--pid")) opt.pid = atoi(v), i++;
    else if (!strcmp(a, "--cpu-pid") && n_cpu_pids < MAX_PIDS) cpu_pids[n_cpu_pids++] = atoi(v), i++;
    else if (!strcmp(a, "--db-pid") && n_db_pids < MAX_PIDS) db_pids[n_db_pids++] = atoi(v), i++;
    else if (!strcmp(a, "--room")) opt.room = atol(v), i++;
    else if (!strcmp(a, "--rooms")) opt.rooms = atoi(v) > 0 ? atoi(v) : 1, i++;
    else if (!strcmp(a, "--member-base")) opt.member_base = atol(v), opt.persist = 1, i++;
    else if (!strcmp(a, "--url2")) {
      if (sscanf(v, "ws://%*[^:]:%d", &opt.port2) != 1) return fprintf(stderr, "bad --url2\n"), 2;
      i++;
    }
    else if (!strcmp(a, "--dest")) opt.dest = v, i++;
    else if (!strcmp(a, "--protocol")) {
      if (strcmp(v, "stomp") != 0 && strcmp(v, "centrifugo") != 0)
        return fprintf(stderr, "bad --protocol\n"), 2;
      opt.centrifugo = !strcmp(v, "centrifugo");
      i++;
    } else if (!strcmp(a, "--api")) {
      if (sscanf(v, "http://%63[^:]:%d%255s", opt.api_host, &opt.api_port, opt.api_path) < 2)
        return fprintf(stderr, "bad --api\n"), 2;
      i++;
    } else if (!strcmp(a, "--api-key")) opt.api_key = v, i++;
    else if (!strcmp(a, "--no-receipt")) opt.no_receipt = 1;
    else if (!strcmp(a, "--redis")) opt.redis = v, i++;
    else if (!strcmp(a, "--login")) opt.login = v, i++;
    else if (!strcmp(a, "--passcode")) opt.passcode = v, i++;
    else if (!strcmp(a, "--token")) opt.token = v, i++;
    else if (!strcmp(a, "--vhost")) opt.vhost = v, i++;
    else if (!strcmp(a, "--timeline")) opt.timeline = v, i++;
    else return fprintf(stderr, "unknown option %s\n", a), 2;
  }
  static char dest[64];
  if (opt.dest == NULL) {
    snprintf(dest, sizeof dest, "/topic/chatroom/%ld", opt.room);
    opt.dest = dest;
  }
  if (opt.timeline) timeline = calloc((size_t)opt.seconds + 5, sizeof *timeline);
  loop = uv_default_loop();
  uv_timer_init(loop, &pub_timer);
  uv_timer_init(loop, &stop_timer);
  uv_timer_init(loop, &end_timer);
  uv_timer_init(loop, &hold_timer);
  uv_timer_t setup_timer;
  uv_timer_init(loop, &setup_timer);
  if (opt.setup_timeout == 0 && strcmp(opt.scenario, "fanout") == 0) opt.setup_timeout = 60;
  if (opt.setup_timeout > 0) {
    uv_timer_start(&setup_timer, on_setup_timeout, (uint64_t)opt.setup_timeout * 1000, 0);
    uv_unref((uv_handle_t *)&setup_timer);
  }
  uv_timer_t progress;
  uv_timer_init(loop, &progress);
  uv_timer_start(&progress, on_progress, 100, 100);
  if (opt.redis) {
    char rh[64];
    int rp = 6379;
    sscanf(opt.redis, "%63[^:]:%d", rh, &rp);
    redis = redisConnect(rh, rp);
    if (redis == NULL || redis->err) return fprintf(stderr, "cannot connect to Redis %s\n", opt.redis), 1;
  }
  if (opt.no_receipt && !redis)
    return fprintf(stderr, "--no-receipt needs --redis (the probes go through it)\n"), 2;
  if (opt.no_receipt) {
    uv_timer_init(loop, &probe_timer);
    uv_timer_start(&probe_timer, probe, 20, 20);
  }
  rss_before = opt.pid ? rss_kb(opt.pid) : -1;
  t_start_ns = now_ns();
  if (strcmp(opt.scenario, "connections") == 0) window_begin();
  clients = calloc((size_t)opt.n, sizeof *clients);
  /* The publisher first: a broker that accepts connections slowly must not leave it last
   * in line behind a thousand subscribers. */
  if (strcmp(opt.scenario, "fanout") == 0 && opt.api_port && !redis && !opt.persist) api_open();
  else if (strcmp(opt.scenario, "fanout") == 0 && !redis && !opt.persist) publisher = open_client(opt.n, 1);
  for (int i = 0; i < opt.n; i++) clients[i] = open_client(i, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  if (strcmp(opt.scenario, "connections") == 0) {
    report_connections();
    if (opt.hold > 0) printf("scenario=hold seconds=%d dropped=%d\n", opt.hold, dropped);
  } else {
    printf("scenario=fanout subscribers=%d failed=%d dropped=%d rejected=%d sent=%llu deliveries=%llu expected=%llu deliveries_per_s=%.0f "
           "p50_us=%.0f p99_us=%.0f p999_us=%.0f",
           subscribed, failed, dropped, rejected, (unsigned long long)sent, (unsigned long long)deliveries,
           (unsigned long long)(sent * (uint64_t)(subscribed / opt.rooms)), (double)deliveries / (opt.seconds > 0 ? opt.seconds : 1),
           percentile(50), percentile(99), percentile(99.9));
    window_print();
    printf("\n");
  }
  fflush(stdout);
  if (timeline) {
    FILE *tf = fopen(opt.timeline, "w");
    if (tf == NULL) return perror(opt.timeline), 1;
    fprintf(tf, "second sent delivered refused max_us\n");
    for (int s = 0; s < opt.seconds + 5; s++)
      fprintf(tf, "%d %llu %llu %llu %llu\n", s, (unsigned long long)timeline[s].sent,
              (unsigned long long)timeline[s].delivered, (unsigned long long)timeline[s].refused,
              (unsigned long long)timeline[s].max_us);
    fclose(tf);
  }
  /* Connections dropped while idle (a broker's idle timeout) are reported, not fatal,
   * in the connections scenario; in fan-out they are lost subscribers. */
  return failed || rejected || (dropped && strcmp(opt.scenario, "fanout") == 0) ? 1 : 0;
}
