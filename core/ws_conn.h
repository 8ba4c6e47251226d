/* A raw WebSocket connection carrying one STOMP session: the socket side of core/ws.c
 * (framing) and core/stomp_session.c (the protocol). */
#ifndef CHAT_WS_CONN_H
#define CHAT_WS_CONN_H

#include "http.h"

struct chat_runtime;
struct chat_http_conn;

/* Answers the upgrade request `req` on `conn`: either 101 and the connection becomes a
 * WebSocket owned by this module, or an HTTP error through chat_http_respond. */
void chat_ws_conn_upgrade(struct chat_runtime *rt, struct chat_http_conn *conn,
                          const chat_http_request *req);

#endif
