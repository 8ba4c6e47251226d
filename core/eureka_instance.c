#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "eureka_instance.h"
#include "log.h"

char *chat_eureka_app_id(const char *app_name) {
  char *s = strdup(app_name);
  for (char *p = s; p && *p; p++) *p = (char)toupper((unsigned char)*p);
  return s;
}

char *chat_eureka_instance_id(const chat_eureka_instance *in) {
  if (in->instance_id && *in->instance_id) return strdup(in->instance_id);
  size_t n = strlen(in->hostname) + strlen(in->app_name) + 16;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s:%s:%d", in->hostname, in->app_name, in->port);
  return s;
}

static void put(chat_bytes *b, const char *s) { chat_bytes_put(b, s, strlen(s)); }

static void put_string(chat_bytes *b, const char *s) {
  size_t len = strlen(s);
  size_t need = chat_json_escape(NULL, 0, s, len);
  char *esc = malloc(need + 1);
  if (esc == NULL) return;
  chat_json_escape(esc, need, s, len);
  chat_bytes_put(b, "\"", 1);
  chat_bytes_put(b, esc, need);
  chat_bytes_put(b, "\"", 1);
  free(esc);
}

static void put_field(chat_bytes *b, const char *name, const char *value) {
  put_string(b, name);
  put(b, ":");
  put_string(b, value);
  put(b, ",");
}

/* Field order and value types as Eureka's own InstanceInfo JSON codec writes them (ports
 * as numbers with string "@enabled", timestamps and the coordinating flag as strings). */
char *chat_eureka_instance_json(const chat_eureka_instance *in, long long timestamp_ms) {
  char *app = chat_eureka_app_id(in->app_name);
  char *id = chat_eureka_instance_id(in);
  const char *host = in->prefer_ip_address ? in->ip_address : in->hostname;
  char base[512], url[600], num[160];
  snprintf(base, sizeof base, "http://%s:%d", host, in->port);
  chat_bytes b = {0};
  put(&b, "{\"instance\":{");
  put_field(&b, "instanceId", id);
  put_field(&b, "hostName", host);
  put_field(&b, "app", app);
  put_field(&b, "ipAddr", in->ip_address);
  put_field(&b, "status", "UP");
  put_field(&b, "overriddenStatus", "UNKNOWN");
  snprintf(num, sizeof num,
           "\"port\":{\"$\":%d,\"@enabled\":\"true\"},\"securePort\":{\"$\":443,\"@enabled\":\"false\"},"
           "\"countryId\":1,",
           in->port);
  put(&b, num);
  put(&b, "\"dataCenterInfo\":{\"@class\":\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\","
          "\"name\":\"MyOwn\"},");
  snprintf(num, sizeof num, "\"leaseInfo\":{\"renewalIntervalInSecs\":%d,\"durationInSecs\":%d},",
           in->renewal_interval_s, in->lease_duration_s);
  put(&b, num);
  /* Spring Cloud publishes the management port so admin tools find the actuator. */
  snprintf(num, sizeof num, "\"metadata\":{\"management.port\":\"%d\"},", in->port);
  put(&b, num);
  snprintf(url, sizeof url, "%s/", base);
  put_field(&b, "homePageUrl", url);
  snprintf(url, sizeof url, "%s/actuator/info", base);
  put_field(&b, "statusPageUrl", url);
  snprintf(url, sizeof url, "%s/actuator/health", base);
  put_field(&b, "healthCheckUrl", url);
  put_field(&b, "vipAddress", in->app_name);
  put_field(&b, "secureVipAddress", in->app_name);
  put_field(&b, "isCoordinatingDiscoveryServer", "false");
  snprintf(num, sizeof num, "\"lastUpdatedTimestamp\":\"%lld\",\"lastDirtyTimestamp\":\"%lld\"}}",
           timestamp_ms, timestamp_ms);
  put(&b, num);
  free(app);
  free(id);
  return b.data;
}

char **chat_eureka_zones(const char *list, size_t *count) {
  size_t cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  char **zones = calloc(cap + 1, sizeof *zones);
  size_t n = 0;
  if (zones == NULL) return NULL;
  const char *p = list;
  while (*p) {
    size_t len = strcspn(p, ",");
    const char *s = p, *e = p + len;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (e > s) {
      size_t zl = (size_t)(e - s);
      char *z = malloc(zl + 2);
      if (z == NULL) break;
      memcpy(z, s, zl);
      if (z[zl - 1] != '/') z[zl++] = '/'; /* requests append apps/... */
      z[zl] = '\0';
      zones[n++] = z;
    }
    p += len;
    if (*p == ',') p++;
  }
  if (n == 0) {
    free(zones);
    zones = NULL;
  }
  if (count) *count = n;
  return zones;
}

void chat_eureka_zones_free(char **zones) {
  for (char **z = zones; z && *z; z++) free(*z);
  free(zones);
}
