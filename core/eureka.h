/* Eureka registration, as a Spring Cloud Netflix client does it: register on start,
 * renew the lease every renewal interval (registering again when the server forgot the
 * instance), and cancel the lease on a graceful stop. Everything is asynchronous on the
 * loop; an unreachable or slow Eureka costs warnings and retries, never a stall. */
#ifndef CHAT_EUREKA_H
#define CHAT_EUREKA_H

#include <uv.h>

#include "config.h"

typedef struct chat_eureka chat_eureka;

/* Starts registering with cfg->eureka_url (a comma list of zones: the first that
 * answers is used). NULL when Eureka is not configured or cannot start. */
chat_eureka *chat_eureka_start(uv_loop_t *loop, const chat_config *cfg);

/* Stops renewing, deregisters (bounded by a short timeout) if registered, releases
 * everything, then calls on_stopped. */
void chat_eureka_stop(chat_eureka *e, void (*on_stopped)(void *ud), void *ud);

#endif
