/* An asynchronous HTTP client on the libuv loop: libcurl's multi-socket interface, its
 * sockets watched by uv_poll and its timeouts by one uv_timer, so a request never blocks
 * the loop (DNS runs in curl's resolver thread). Used for outbound calls such as the
 * Eureka registration; every callback runs on the loop thread. */
#ifndef CHAT_HTTP_CLIENT_H
#define CHAT_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

typedef struct chat_http_client chat_http_client;
typedef struct chat_http_client_req chat_http_client_req;

/* status: the HTTP status, or 0 when no response arrived (then `error` says why:
 * connection refused, timeout...). body: the response body (NUL-terminated, possibly
 * truncated at 1 MiB). Both pointers are valid only during the call. */
typedef void (*chat_http_client_cb)(int status, const char *body, size_t body_len, const char *error,
                                    void *ud);

chat_http_client *chat_http_client_new(uv_loop_t *loop);

/* Starts `method url`; headers is a NULL-terminated list of "Name: value" lines (or
 * NULL), body is copied. The whole exchange is bounded by timeout_ms. Returns a handle
 * for chat_http_client_cancel, or NULL (cb never called) if it could not be started. */
chat_http_client_req *chat_http_client_request(chat_http_client *c, const char *method, const char *url,
                                               const char *const *headers, const char *body, size_t body_len,
                                               long timeout_ms, chat_http_client_cb cb, void *ud);

/* Abandons a request that has not completed; its callback is never called. */
void chat_http_client_cancel(chat_http_client_req *req);

/* Abandons every request (no callbacks), releases curl and the loop handles, and calls
 * on_closed once the handles are closed. */
void chat_http_client_close(chat_http_client *c, void (*on_closed)(void *ud), void *ud);

#endif
