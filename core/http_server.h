/* The HTTP/1.1 server: accepts connections on the configured port, reads requests with
 * core/http.c (the pure parser), hands each complete request to one handler, and writes
 * the handler's response. Keep-alive, pipelining (requests answered in order, one at a
 * time), request size limits and header/idle timeouts live here. */
#ifndef CHAT_HTTP_SERVER_H
#define CHAT_HTTP_SERVER_H

#include <uv.h>

#include "config.h"
#include "http.h"

typedef struct chat_http_server chat_http_server;
typedef struct chat_http_conn chat_http_conn;

/* Called for every complete request. The handler must eventually call chat_http_respond()
 * exactly once for it, even if the client has gone away meanwhile (the respond then only
 * releases the request). The request stays valid until that call. */
typedef void (*chat_http_handler)(chat_http_conn *conn, const chat_http_request *req, void *ud);

/* Binds and listens (SO_REUSEPORT when cfg->reuse_port). Returns NULL and logs on failure. */
chat_http_server *chat_http_server_start(uv_loop_t *loop, const chat_config *cfg,
                                         chat_http_handler handler, void *ud);

/* Writes the response. `headers` is an array of name/value pairs ending with a NULL name;
 * Content-Length, Date, Connection are added by the server. */
void chat_http_respond(chat_http_conn *conn, int status, const char *const *headers,
                       const char *body, size_t body_len);

/* Stops accepting, closes idle connections, lets in-flight requests finish (their
 * connections close after the response); calls on_closed when no connection is left. */
void chat_http_server_stop(chat_http_server *srv, void (*on_closed)(void *ud), void *ud);

/* ---- connections that outlive one response: WebSocket, SockJS streaming ---- */

typedef struct chat_http_upgrade_ops {
  void (*on_data)(void *ud, const char *data, size_t len); /* bytes from the peer */
  void (*on_close)(void *ud); /* the socket is closed: stop using the connection */
} chat_http_upgrade_ops;

/* Takes the connection of the request being handled (instead of chat_http_respond):
 * writes `response` (e.g. "101 Switching Protocols"), then every byte read goes to ops. */
void chat_http_conn_upgrade(chat_http_conn *conn, const char *response, size_t len,
                            const chat_http_upgrade_ops *ops, void *ud);

/* Writes bufs (which must stay valid until done is called, also on failure). */
int chat_http_conn_write(chat_http_conn *conn, const uv_buf_t *bufs, unsigned n,
                         void (*done)(void *ud), void *ud);
/* Writes a copy of `data` (small control frames, preludes): the caller keeps its buffer. */
int chat_http_conn_write_copy(chat_http_conn *conn, const void *data, size_t len);
size_t chat_http_conn_queued(const chat_http_conn *conn);
void chat_http_conn_pause(chat_http_conn *conn, int paused);
/* graceful: after queued writes are flushed; otherwise at once (a slow consumer). */
void chat_http_conn_close(chat_http_conn *conn, int graceful);
const char *chat_http_conn_peer(const chat_http_conn *conn);

/* Number of open connections (for metrics and shutdown), and how many of them were
 * upgraded (WebSocket, SockJS streaming). */
size_t chat_http_server_connections(const chat_http_server *srv);
size_t chat_http_server_upgraded(const chat_http_server *srv);
/* Connections accepted at most (CHAT_MAX_CONNECTIONS, or what the open-file limit allows). */
size_t chat_http_server_limit(const chat_http_server *srv);

/* The method of the request being handled on conn, and the seconds since it was
 * complete (latency metrics); valid until chat_http_respond. */
const char *chat_http_conn_request_method(const chat_http_conn *conn);
double chat_http_conn_request_seconds(const chat_http_conn *conn);

#endif
