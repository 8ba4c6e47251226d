/* Named time zones for the two zones the original service's configuration names rather than
 * the process's TZ: the zone its database holds wall-clock times in (Hibernate's
 * jdbc.time_zone) and the zone of its error timestamps (spring.jackson.time-zone).
 *
 * A zone is a region of the tz database ("Asia/Seoul"), UTC/GMT/Z, or a fixed offset
 * ("+09:00", "-03:30", "+09"), the forms Java's ZoneId accepts that also mean the same
 * thing to PostgreSQL. */
#ifndef CHAT_TIME_ZONE_H
#define CHAT_TIME_ZONE_H

#include <stddef.h>
#include <time.h>

typedef struct chat_time_zone {
  char name[64];
  int fixed;          /* 1: UTC or a fixed offset, no zone file */
  long fixed_offset;  /* seconds east of UTC, when fixed */
  time_t window;      /* start of the quarter hour cached_offset was computed for; -1: none */
  long cached_offset;
} chat_time_zone;

/* Checks and prepares a zone. 0, or -1 with a reason in err. */
int chat_time_zone_init(chat_time_zone *z, const char *name, char *err, size_t errlen);

/* Seconds east of UTC in the zone at instant t. */
long chat_time_zone_offset(chat_time_zone *z, time_t t);

/* Seconds since the epoch -> whole seconds and the fraction in units of `scale` (1e6:
 * microseconds, 1e3: milliseconds), rounded, not truncated: an epoch read from PostgreSQL
 * as a double is within 0.2 us of its value. */
time_t chat_time_split(double secs, double scale, long *frac);

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]": a local date-time as Jackson writes a LocalDateTime (the
 * fraction keeps only the digits it needs, none when zero). In the zone z, or the process's
 * own zone (TZ) when z is NULL. Returns the length written (the buffer needs 32 bytes). */
size_t chat_time_local_iso(char *buf, size_t len, time_t secs, long micros, chat_time_zone *z);

/* "YYYY-MM-DDTHH:MM:SS.mmm+09:00": an instant in the zone with milliseconds and offset, as
 * Jackson writes a java.util.Date such as Spring Boot's error timestamp (UTC is "+00:00").
 * Returns the length written (the buffer needs 40 bytes). */
size_t chat_time_offset_iso(char *buf, size_t len, time_t secs, long millis, chat_time_zone *z);

#endif
