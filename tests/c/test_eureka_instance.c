/* The Eureka instance document (what Spring Cloud Netflix clients POST to apps/{APP}),
 * the default instance id, and the defaultZone list. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eureka_instance.h"

static void test_document(void) {
  chat_eureka_instance in = {.app_name = "chat-service", .hostname = "chat-7f9c", .ip_address = "10.0.0.5",
                             .port = 8084, .renewal_interval_s = 30, .lease_duration_s = 90};
  char *id = chat_eureka_instance_id(&in);
  CHECK_STR(id, "chat-7f9c:chat-service:8084");
  free(id);
  char *app = chat_eureka_app_id("chat-service");
  CHECK_STR(app, "CHAT-SERVICE");
  free(app);
  char *doc = chat_eureka_instance_json(&in, 1700000000123LL);
  CHECK_STR(doc,
            "{\"instance\":{\"instanceId\":\"chat-7f9c:chat-service:8084\",\"hostName\":\"chat-7f9c\","
            "\"app\":\"CHAT-SERVICE\",\"ipAddr\":\"10.0.0.5\",\"status\":\"UP\",\"overriddenStatus\":\"UNKNOWN\","
            "\"port\":{\"$\":8084,\"@enabled\":\"true\"},\"securePort\":{\"$\":443,\"@enabled\":\"false\"},"
            "\"countryId\":1,\"dataCenterInfo\":{\"@class\":\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\","
            "\"name\":\"MyOwn\"},\"leaseInfo\":{\"renewalIntervalInSecs\":30,\"durationInSecs\":90},"
            "\"metadata\":{\"management.port\":\"8084\"},\"homePageUrl\":\"http://chat-7f9c:8084/\","
            "\"statusPageUrl\":\"http://chat-7f9c:8084/actuator/info\","
            "\"healthCheckUrl\":\"http://chat-7f9c:8084/actuator/health\",\"vipAddress\":\"chat-service\","
            "\"secureVipAddress\":\"chat-service\",\"isCoordinatingDiscoveryServer\":\"false\","
            "\"lastUpdatedTimestamp\":\"1700000000123\",\"lastDirtyTimestamp\":\"1700000000123\"}}");
  free(doc);

  /* prefer-ip: hostName and URLs carry the IP; the id keeps the host name, as Spring's. */
  in.prefer_ip_address = 1;
  doc = chat_eureka_instance_json(&in, 1);
  CHECK(strstr(doc, "\"instanceId\":\"chat-7f9c:chat-service:8084\",\"hostName\":\"10.0.0.5\"") != NULL);
  CHECK(strstr(doc, "\"healthCheckUrl\":\"http://10.0.0.5:8084/actuator/health\"") != NULL);
  free(doc);

  in.instance_id = "chat-\"0\"";
  doc = chat_eureka_instance_json(&in, 1);
  CHECK(strstr(doc, "\"instanceId\":\"chat-\\\"0\\\"\"") != NULL); /* escaped */
  free(doc);
}

static void test_zones(void) {
  size_t n = 0;
  char **z = chat_eureka_zones(" http://a:8761/eureka , http://b/eureka/,,", &n);
  CHECK(n == 2);
  CHECK_STR(z[0], "http://a:8761/eureka/");
  CHECK_STR(z[1], "http://b/eureka/");
  CHECK(z[2] == NULL);
  chat_eureka_zones_free(z);
  CHECK(chat_eureka_zones(" , ", &n) == NULL);
  CHECK(n == 0);
}

int main(void) {
  test_document();
  test_zones();
  CHECK_DONE();
}
