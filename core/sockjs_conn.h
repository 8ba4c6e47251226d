/* The SockJS endpoint (Spring's addEndpoint(path).withSockJS()): greeting, /info, the
 * iframe page, and the transports websocket, xhr-streaming, xhr-polling (+ xhr_send),
 * eventsource and htmlfile, each carrying one STOMP session per SockJS session. */
#ifndef CHAT_SOCKJS_CONN_H
#define CHAT_SOCKJS_CONN_H

#include "http.h"

struct chat_runtime;
struct chat_http_conn;

/* Handles a request whose path starts with the endpoint prefix; `rest` is what follows
 * it ("", "/info", "/123/abc/xhr", ...). Returns 0 when the path is not SockJS's (the
 * caller answers it), 1 when handled. */
int chat_sockjs_handle(struct chat_runtime *rt, struct chat_http_conn *conn, const chat_http_request *req,
                       const char *rest);

/* SockJS sessions not ended yet: the CHAT_SOCKJS_MAX_SESSIONS count, and a metric. */
size_t chat_sockjs_sessions(void);

/* Graceful stop, once no client connection is left: ends every session now instead of
 * after its 5 s disconnect delay (no client can come back for it). */
void chat_sockjs_stop_all(void);

#endif
