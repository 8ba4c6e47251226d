#include "jwks_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "log.h"
#include "metrics.h"

enum {
  REQUEST_TIMEOUT_MS = 10000,
  FIRST_BACKOFF_MS = 1000,
  MAX_BACKOFF_MS = 60000,
  MIN_ON_DEMAND_GAP_MS = 30000, /* unknown-kid refreshes, at most this often */
};

struct chat_jwks {
  uv_loop_t *loop;
  char *url;
  uint64_t refresh_ms, backoff_ms;
  chat_http_client *http;
  chat_http_client_req *inflight;
  uv_timer_t timer;
  char *text;
  uint64_t version;
  uint64_t last_asked_ms; /* when a refresh was last asked for; 0: never */
  int pending_closes;
  void (*on_stopped)(void *ud);
  void *stopped_ud;
};

static void fetch(chat_jwks *j);

static void on_timer(uv_timer_t *t) { fetch(t->data); }

static void on_fetched(int status, const char *body, size_t body_len, const char *error, void *ud) {
  chat_jwks *j = ud;
  j->inflight = NULL;
  if (status == 200 && body_len > 0) {
    if (j->text == NULL || strcmp(j->text, body) != 0) {
      char *copy = malloc(body_len + 1);
      if (copy) {
        memcpy(copy, body, body_len + 1);
        free(j->text);
        j->text = copy;
        j->version++;
        chat_log_info("jwks", "key set from %s loaded (%zu bytes)", j->url, body_len);
      }
    }
    j->backoff_ms = FIRST_BACKOFF_MS;
    chat_metrics.jwks_last_success = (double)time(NULL);
    uv_timer_start(&j->timer, on_timer, j->refresh_ms, 0);
    return;
  }
  chat_metrics.jwks_fetch_failures++;
  char why[192];
  if (status) snprintf(why, sizeof why, "HTTP %d", status);
  else snprintf(why, sizeof why, "%s", error ? error : "no response");
  chat_log_warn("jwks", "cannot fetch %s (%s); %s, retrying in %llu ms", j->url, why,
                j->text ? "keeping the last key set" : "RS256 tokens are refused until it works",
                (unsigned long long)j->backoff_ms);
  uv_timer_start(&j->timer, on_timer, j->backoff_ms, 0);
  j->backoff_ms = j->backoff_ms * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : j->backoff_ms * 2;
}

static void fetch(chat_jwks *j) {
  if (j->inflight) return;
  static const char *const headers[] = {"Accept: application/json", NULL};
  j->inflight = chat_http_client_request(j->http, "GET", j->url, headers, NULL, 0, REQUEST_TIMEOUT_MS, on_fetched, j);
  if (j->inflight == NULL) {
    chat_log_warn("jwks", "cannot start a request to %s", j->url);
    uv_timer_start(&j->timer, on_timer, j->backoff_ms, 0);
  }
}

chat_jwks *chat_jwks_start(uv_loop_t *loop, const char *url, int refresh_s) {
  if (url == NULL) return NULL;
  chat_jwks *j = calloc(1, sizeof *j);
  if (j == NULL || (j->url = strdup(url)) == NULL || (j->http = chat_http_client_new(loop)) == NULL) {
    chat_log_error("jwks", "cannot fetch %s: out of memory", url);
    if (j) free(j->url);
    free(j);
    return NULL;
  }
  j->loop = loop;
  j->refresh_ms = (uint64_t)refresh_s * 1000;
  j->backoff_ms = FIRST_BACKOFF_MS;
  uv_timer_init(loop, &j->timer);
  j->timer.data = j;
  fetch(j);
  return j;
}

const char *chat_jwks_text(const chat_jwks *j, uint64_t *version) {
  if (version) *version = j ? j->version : 0;
  return j ? j->text : NULL;
}

void chat_jwks_refresh_soon(chat_jwks *j) {
  if (j == NULL || j->inflight) return;
  uint64_t now = uv_now(j->loop);
  if (j->last_asked_ms && now - j->last_asked_ms < MIN_ON_DEMAND_GAP_MS) return;
  j->last_asked_ms = now;
  uv_timer_start(&j->timer, on_timer, 0, 0);
}

static void release(chat_jwks *j) {
  if (--j->pending_closes > 0) return;
  void (*done)(void *) = j->on_stopped;
  void *ud = j->stopped_ud;
  free(j->url);
  free(j->text);
  free(j);
  if (done) done(ud);
}

static void on_client_closed(void *ud) { release(ud); }
static void on_timer_closed(uv_handle_t *h) { release(h->data); }

void chat_jwks_stop(chat_jwks *j, void (*on_stopped)(void *ud), void *ud) {
  j->on_stopped = on_stopped;
  j->stopped_ud = ud;
  j->pending_closes = 2;
  j->inflight = NULL; /* abandoned by the client's close, without a callback */
  uv_close((uv_handle_t *)&j->timer, on_timer_closed);
  chat_http_client_close(j->http, on_client_closed, j);
}
