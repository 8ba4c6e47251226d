/* The glue between the servers and the Lua application: every HTTP request and Redis
 * message becomes a task running the app's handler, and a reload swaps the generation new
 * tasks start in (with the Redis channels and Kafka topics the new scripts ask for). */
#ifndef CHAT_APP_H
#define CHAT_APP_H

#include <stddef.h>

struct chat_runtime;

/* Loads CHAT_LUA_DIR into a new generation and makes it current; on any error logs it
 * and keeps the old one (a bad ConfigMap never takes a pod down). Returns 0 on success. */
int chat_app_reload(struct chat_runtime *rt);

struct chat_http_conn;
struct chat_http_request;
/* The HTTP server's handler: runs app.http(req) in a task and answers with its result. */
void chat_app_http_request(struct chat_http_conn *conn, const struct chat_http_request *req,
                           void *rt);

/* A Pub/Sub message: runs app.redis_message(channel, payload) in a task. */
void chat_app_redis_message(const char *channel, size_t channel_len, const char *payload,
                            size_t payload_len, void *rt);

/* The command link to Redis answers again after it was lost: runs app.redis_restored()
 * (what only Redis held is written back, what could not be published is published). */
void chat_app_redis_link_changed(void *rt, int up);

#endif
