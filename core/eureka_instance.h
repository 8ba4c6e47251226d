/* The pure half of the Eureka registration: the instance document Spring Cloud Netflix
 * clients send, the instance id, and the zone list. No sockets, so it is unit-tested. */
#ifndef CHAT_EUREKA_INSTANCE_H
#define CHAT_EUREKA_INSTANCE_H

#include <stddef.h>

typedef struct chat_eureka_instance {
  const char *app_name;    /* spring.application.name as configured, e.g. chat-service */
  const char *instance_id; /* NULL or "": Spring's default hostname:app-name:port */
  const char *hostname;
  const char *ip_address;
  int prefer_ip_address;   /* hostName and the URLs use the IP instead of the host name */
  int port;
  int renewal_interval_s;
  int lease_duration_s;
} chat_eureka_instance;

/* The application name Eureka files the instance under: upper-cased, as the server does. */
char *chat_eureka_app_id(const char *app_name);

/* instance_id if set, else `hostname:app-name:port` (Spring Cloud's default). */
char *chat_eureka_instance_id(const chat_eureka_instance *in);

/* `{"instance":{...}}` for POST apps/{APP}; timestamp_ms is the lastDirtyTimestamp. */
char *chat_eureka_instance_json(const chat_eureka_instance *in, long long timestamp_ms);

/* Splits a defaultZone list ("http://a/eureka/,http://b/eureka") into URLs that end in
 * '/', NULL-terminated; *count receives how many. NULL when the list has none. */
char **chat_eureka_zones(const char *list, size_t *count);
void chat_eureka_zones_free(char **zones);

#endif
