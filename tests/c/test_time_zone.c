/* Named time zones (core/time_zone.c): the forms accepted, offsets across a DST change,
 * and the two text forms Jackson writes (LocalDateTime, and java.util.Date with offset). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "time_zone.h"

static void test_names(void) {
  chat_time_zone z;
  char err[256];
  CHECK(chat_time_zone_init(&z, "Asia/Seoul", err, sizeof err) == 0 && !z.fixed);
  CHECK(chat_time_zone_init(&z, "UTC", err, sizeof err) == 0 && z.fixed && z.fixed_offset == 0);
  CHECK(chat_time_zone_init(&z, "Z", err, sizeof err) == 0 && z.fixed);
  CHECK(chat_time_zone_init(&z, "+09:00", err, sizeof err) == 0 && z.fixed_offset == 9 * 3600);
  CHECK(chat_time_zone_init(&z, "-03:30", err, sizeof err) == 0 && z.fixed_offset == -(3 * 3600 + 1800));
  CHECK(chat_time_zone_init(&z, "+0545", err, sizeof err) == 0 && z.fixed_offset == 5 * 3600 + 45 * 60);
  CHECK(chat_time_zone_init(&z, "+09", err, sizeof err) == 0 && z.fixed_offset == 9 * 3600);
  /* Refused: unknown regions, paths out of the zone folder, bad offsets, POSIX strings. */
  const char *bad[] = {"", "Mars/Olympus", "../etc/passwd", "/etc/localtime", "Asia/../Asia/Seoul",
                       "+25:00", "+9", "+09:0", "KST-9", "Asia/Seoul;DROP", NULL};
  for (const char **b = bad; *b; b++) {
    err[0] = '\0';
    CHECK(chat_time_zone_init(&z, *b, err, sizeof err) < 0);
    CHECK(err[0] != '\0');
  }
}

static void test_offsets(void) {
  chat_time_zone seoul, berlin;
  char err[256];
  CHECK(chat_time_zone_init(&seoul, "Asia/Seoul", err, sizeof err) == 0);
  CHECK(chat_time_zone_init(&berlin, "Europe/Berlin", err, sizeof err) == 0);
  CHECK(chat_time_zone_offset(&seoul, 1736400600) == 9 * 3600);
  /* 2025-03-30 01:00 UTC Berlin moves from +01:00 to +02:00; the cache is per quarter hour,
   * so the instants on both sides of the change must not share an answer. */
  CHECK(chat_time_zone_offset(&berlin, 1743296400 - 1) == 3600);
  CHECK(chat_time_zone_offset(&berlin, 1743296400) == 7200);
  CHECK(chat_time_zone_offset(&berlin, 1743296400 - 1) == 3600);
  /* Looking a zone up leaves the process's own zone as it was. */
  setenv("TZ", "America/Sao_Paulo", 1);
  tzset();
  CHECK(chat_time_zone_offset(&seoul, 1736400600 + 86400) == 9 * 3600);
  char buf[48];
  chat_time_local_iso(buf, sizeof buf, 1736400600, 0, NULL);
  CHECK_STR(buf, "2025-01-09T02:30:00");
}

static void test_text(void) {
  chat_time_zone seoul, utc, minus;
  char err[256], buf[64];
  CHECK(chat_time_zone_init(&seoul, "Asia/Seoul", err, sizeof err) == 0);
  CHECK(chat_time_zone_init(&utc, "UTC", err, sizeof err) == 0);
  CHECK(chat_time_zone_init(&minus, "-03:30", err, sizeof err) == 0);
  /* 1736400600 is 2025-01-09T05:30:00Z. */
  chat_time_local_iso(buf, sizeof buf, 1736400600, 123456, &seoul);
  CHECK_STR(buf, "2025-01-09T14:30:00.123456");
  chat_time_local_iso(buf, sizeof buf, 1736400600, 120000, &seoul);
  CHECK_STR(buf, "2025-01-09T14:30:00.12");
  chat_time_local_iso(buf, sizeof buf, 1736400600, 0, &utc);
  CHECK_STR(buf, "2025-01-09T05:30:00");
  /* Written digit by digit; the general path (a short buffer, a year past 9999) agrees,
   * and a fraction that does not fit is left out without touching the seconds' zeros. */
  char small[24];
  chat_time_local_iso(small, sizeof small, 1736400600, 120000, &utc);
  CHECK_STR(small, "2025-01-09T05:30:00");
  chat_time_local_iso(buf, sizeof buf, 253402300800, 500000, &utc);
  CHECK_STR(buf, "10000-01-01T00:00:00.5");
  chat_time_local_iso(buf, sizeof buf, -62135596800 - 86400, 0, &utc);
  CHECK_STR(buf, "0000-12-31T00:00:00");
  chat_time_offset_iso(buf, sizeof buf, 1736400600, 5, &seoul);
  CHECK_STR(buf, "2025-01-09T14:30:00.005+09:00");
  chat_time_offset_iso(buf, sizeof buf, 1736400600, 999, &utc);
  CHECK_STR(buf, "2025-01-09T05:30:00.999+00:00");
  chat_time_offset_iso(buf, sizeof buf, 1736400600, 0, &minus);
  CHECK_STR(buf, "2025-01-09T02:00:00.000-03:30");
}

int main(void) {
  test_names();
  test_offsets();
  test_text();
  CHECK_DONE();
}
