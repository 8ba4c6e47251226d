/* libcurl's multi-socket API driven by libuv (the pattern of curl's multi-uv example):
 * curl says which sockets to watch (socket callback) and when to wake it (timer
 * callback); the loop reports readiness back with curl_multi_socket_action, and finished
 * transfers are collected from curl_multi_info_read. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "http_client.h"
#include "log.h"

enum { MAX_RESPONSE_BYTES = 1024 * 1024 };

struct chat_http_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  chat_http_client_req *requests; /* in flight, doubly linked for cancel */
  struct socket_watch *watches;   /* sockets being watched, closed at the latest by close */
  int open_handles;               /* timer + socket pollers not yet closed */
  int closing;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

struct chat_http_client_req {
  chat_http_client *client;
  CURL *easy;
  struct curl_slist *headers;
  chat_bytes body;
  chat_http_client_cb cb;
  void *ud;
  char error[CURL_ERROR_SIZE];
  chat_http_client_req *prev, *next;
};

/* One per socket curl watches; lives until its uv_close completes. */
typedef struct socket_watch {
  uv_poll_t poll;
  chat_http_client *client;
  curl_socket_t fd;
  struct socket_watch *prev, *next;
} socket_watch;

static void maybe_finish_close(chat_http_client *c) {
  if (!c->closing || c->open_handles > 0) return;
  void (*done)(void *) = c->on_closed;
  void *ud = c->closed_ud;
  free(c);
  if (done) done(ud);
}

static void on_timer_closed(uv_handle_t *h) {
  chat_http_client *c = h->data;
  c->open_handles--;
  maybe_finish_close(c);
}

static void on_watch_closed(uv_handle_t *h) {
  socket_watch *w = h->data;
  chat_http_client *c = w->client;
  free(w);
  c->open_handles--;
  maybe_finish_close(c);
}

/* Stopped at once (curl closes the fd right after telling us); freed once closed. */
static void unwatch(socket_watch *w) {
  chat_http_client *c = w->client;
  if (w->prev) w->prev->next = w->next;
  else c->watches = w->next;
  if (w->next) w->next->prev = w->prev;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void unlink_req(chat_http_client_req *r) {
  chat_http_client *c = r->client;
  if (r->prev) r->prev->next = r->next;
  else c->requests = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void free_req(chat_http_client_req *r) {
  unlink_req(r);
  curl_multi_remove_handle(r->client->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->body.data);
  free(r);
}

/* Hands every finished transfer to its callback. */
static void collect_finished(chat_http_client *c) {
  CURLMsg *msg;
  int left;
  while (!c->closing && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    chat_http_client_req *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r == NULL) continue;
    CURLcode result = msg->data.result;
    long status = 0;
    if (result == CURLE_OK) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *error = NULL;
    if (result != CURLE_OK) error = r->error[0] ? r->error : curl_easy_strerror(result);
    /* Detached before the callback so the callback may start new requests or even close
     * the client; the request itself is freed after it returns. */
    unlink_req(r);
    curl_multi_remove_handle(c->multi, r->easy);
    r->cb((int)status, r->body.data ? r->body.data : "", r->body.len, error, r->ud);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body.data);
    free(r);
  }
}

static void on_socket_ready(uv_poll_t *p, int status, int events) {
  socket_watch *w = p->data;
  chat_http_client *c = w->client;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(c->multi, w->fd, flags, &running);
  collect_finished(c);
}

static void on_timeout(uv_timer_t *t) {
  chat_http_client *c = t->data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  collect_finished(c);
}

/* curl's timer callback: must not call back into curl, so the work goes to the timer. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  chat_http_client *c = userp;
  if (timeout_ms < 0) uv_timer_stop(&c->timer);
  else uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  chat_http_client *c = userp;
  socket_watch *w = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (w) {
      unwatch(w);
      if (!c->closing) curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (w == NULL) {
    w = calloc(1, sizeof *w);
    if (w == NULL || uv_poll_init_socket(c->loop, &w->poll, fd) != 0) {
      free(w);
      chat_log_error("http_client", "cannot watch socket %d", (int)fd);
      return -1;
    }
    w->client = c;
    w->fd = fd;
    w->poll.data = w;
    w->next = c->watches;
    if (c->watches) c->watches->prev = w;
    c->watches = w;
    c->open_handles++;
    curl_multi_assign(c->multi, fd, w);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&w->poll, events, on_socket_ready);
  return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
  chat_http_client_req *r = userp;
  size_t n = size * nmemb;
  size_t keep = r->body.len >= MAX_RESPONSE_BYTES ? 0 : n;
  if (keep > MAX_RESPONSE_BYTES - r->body.len) keep = MAX_RESPONSE_BYTES - r->body.len;
  if (keep > 0 && chat_bytes_put(&r->body, data, keep) < 0) return 0; /* aborts the transfer */
  return n;
}

chat_http_client *chat_http_client_new(uv_loop_t *loop) {
  static int curl_ready;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    curl_ready = 1;
  }
  chat_http_client *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->loop = loop;
  c->multi = curl_multi_init();
  if (c->multi == NULL) {
    free(c);
    return NULL;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->open_handles = 1;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  return c;
}

chat_http_client_req *chat_http_client_request(chat_http_client *c, const char *method, const char *url,
                                               const char *const *headers, const char *body, size_t body_len,
                                               long timeout_ms, chat_http_client_cb cb, void *ud) {
  if (c->closing) return NULL;
  chat_http_client_req *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->client = c;
  r->cb = cb;
  r->ud = ud;
  r->easy = curl_easy_init();
  if (r->easy == NULL) {
    free(r);
    return NULL;
  }
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
  } else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L); /* an explicit Content-Length: 0 */
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
  }
  for (const char *const *h = headers; h && *h; h++) r->headers = curl_slist_append(r->headers, *h);
  /* No 100-continue round trip for bodies over 1 KiB: the servers answer at once. */
  r->headers = curl_slist_append(r->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: the loop owns signals */
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    curl_slist_free_all(r->headers);
    free(r);
    return NULL;
  }
  r->next = c->requests;
  if (c->requests) c->requests->prev = r;
  c->requests = r;
  return r;
}

void chat_http_client_cancel(chat_http_client_req *req) {
  if (req) free_req(req);
}

void chat_http_client_close(chat_http_client *c, void (*on_closed)(void *ud), void *ud) {
  c->closing = 1;
  c->on_closed = on_closed;
  c->closed_ud = ud;
  while (c->requests) free_req(c->requests); /* removing a handle releases its sockets */
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->watches) unwatch(c->watches); /* any curl did not hand back */
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
