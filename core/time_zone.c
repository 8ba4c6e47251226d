/* Named time zones (see time_zone.h).
 *
 * glibc converts times only in the zone named by the TZ variable, so the offset of another
 * zone is found by pointing TZ at it for one conversion and back. That is cheap but not
 * free (tzset reads the zone file), so an offset is kept for the quarter hour it was
 * computed in: every transition of today's tz database (DST, a changed standard offset)
 * falls on a UTC quarter hour, because local transition times are whole or half hours and
 * offsets are multiples of 15 minutes. A zone is therefore looked up at most once per
 * quarter hour, never once per message. */
#include "time_zone.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUARTER_HOUR 900

static const char *zone_dir(void) {
  const char *dir = getenv("TZDIR");
  return dir != NULL && *dir != '\0' ? dir : "/usr/share/zoneinfo";
}

/* "+09:00", "-03:30", "+09", "+0930" -> seconds east of UTC. -1 when not an offset. */
static int parse_offset(const char *s, long *out) {
  if (s[0] != '+' && s[0] != '-') return -1;
  int sign = s[0] == '-' ? -1 : 1;
  const char *p = s + 1;
  if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return -1;
  long hours = (p[0] - '0') * 10 + (p[1] - '0');
  long minutes = 0;
  p += 2;
  if (*p == ':') p++;
  if (*p != '\0') {
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != '\0') return -1;
    minutes = (p[0] - '0') * 10 + (p[1] - '0');
  }
  if (hours > 18 || minutes > 59 || hours * 3600 + minutes * 60 > 18 * 3600) return -1;
  *out = sign * (hours * 3600 + minutes * 60);
  return 0;
}

/* A region name of the tz database with a zone file behind it. */
static int is_region(const char *name) {
  if (!isalpha((unsigned char)name[0]) || strstr(name, "..") != NULL) return 0;
  for (const char *p = name; *p; p++) {
    if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL) return 0;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/%s", zone_dir(), name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 0;
  char magic[4] = {0};
  size_t n = fread(magic, 1, sizeof magic, f);
  fclose(f);
  return n == sizeof magic && memcmp(magic, "TZif", 4) == 0;
}

int chat_time_zone_init(chat_time_zone *z, const char *name, char *err, size_t errlen) {
  memset(z, 0, sizeof *z);
  z->window = -1;
  if (name == NULL || *name == '\0' || strlen(name) >= sizeof z->name) {
    snprintf(err, errlen, "a time zone name is needed (e.g. Asia/Seoul, UTC or +09:00)");
    return -1;
  }
  snprintf(z->name, sizeof z->name, "%s", name);
  if (strcmp(name, "UTC") == 0 || strcmp(name, "GMT") == 0 || strcmp(name, "Z") == 0) {
    z->fixed = 1;
    return 0;
  }
  if (parse_offset(name, &z->fixed_offset) == 0) {
    z->fixed = 1;
    return 0;
  }
  if (is_region(name)) return 0;
  snprintf(err, errlen, "'%s' is not a time zone (a tz database region such as Asia/Seoul under %s, UTC, or an offset such as +09:00)",
           name, zone_dir());
  return -1;
}

/* The offset of a region zone at t: TZ pointed at the zone for one conversion. Not
 * thread-safe against other threads converting local times at the same moment; chatd
 * converts times on the loop thread only. */
static long region_offset(const char *name, time_t t) {
  const char *current = getenv("TZ");
  char *saved = current != NULL ? strdup(current) : NULL;
  char spec[80];
  snprintf(spec, sizeof spec, ":%s", name);
  setenv("TZ", spec, 1);
  tzset();
  struct tm tm;
  localtime_r(&t, &tm);
  if (saved != NULL) {
    setenv("TZ", saved, 1);
    free(saved);
  } else {
    unsetenv("TZ");
  }
  tzset();
  return tm.tm_gmtoff;
}

long chat_time_zone_offset(chat_time_zone *z, time_t t) {
  if (z->fixed) return z->fixed_offset;
  time_t window = t - (((t % QUARTER_HOUR) + QUARTER_HOUR) % QUARTER_HOUR);
  if (window != z->window) {
    z->cached_offset = region_offset(z->name, t);
    z->window = window;
  }
  return z->cached_offset;
}

/* The broken-down local time of secs in z (or the process's zone). */
static void local_fields(time_t secs, chat_time_zone *z, struct tm *tm) {
  if (z == NULL) {
    localtime_r(&secs, tm);
    return;
  }
  time_t shifted = secs + chat_time_zone_offset(z, secs);
  gmtime_r(&shifted, tm);
}

/* value as `width` decimal digits, zero-padded; returns the end. */
static char *put_digits(char *p, long value, int width) {
  for (int i = width - 1; i >= 0; i--) {
    p[i] = (char)('0' + value % 10);
    value /= 10;
  }
  return p + width;
}

/* Digit by digit rather than strftime and snprintf: a history page writes fifty of these,
 * and the formatting functions were a tenth of its time. */
size_t chat_time_local_iso(char *buf, size_t len, time_t secs, long micros, chat_time_zone *z) {
  struct tm tm;
  local_fields(secs, z, &tm);
  long year = (long)tm.tm_year + 1900;
  if (len < 32 || year < 0 || year > 9999) {
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (micros > 0 && n + 8 <= len) {
      n += (size_t)snprintf(buf + n, len - n, ".%06ld", micros);
      while (buf[n - 1] == '0') n--;
      buf[n] = '\0';
    }
    return n;
  }
  char *p = put_digits(buf, year, 4);
  *p++ = '-';
  p = put_digits(p, tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits(p, tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits(p, tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_min, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_sec, 2);
  if (micros > 0) {
    *p++ = '.';
    p = put_digits(p, micros, 6);
    while (p[-1] == '0') p--;
  }
  *p = '\0';
  return (size_t)(p - buf);
}

size_t chat_time_offset_iso(char *buf, size_t len, time_t secs, long millis, chat_time_zone *z) {
  long offset = chat_time_zone_offset(z, secs);
  time_t shifted = secs + offset;
  struct tm tm;
  gmtime_r(&shifted, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  long east = offset < 0 ? -offset : offset;
  int written = snprintf(buf + n, len - n, ".%03ld%c%02ld:%02ld", millis, offset < 0 ? '-' : '+', east / 3600,
                         (east % 3600) / 60);
  return written > 0 && (size_t)written < len - n ? n + (size_t)written : n;
}

time_t chat_time_split(double secs, double scale, long *frac) {
  time_t whole = (time_t)floor(secs);
  long f = (long)((secs - (double)whole) * scale + 0.5);
  if (f >= (long)scale) {
    whole += 1;
    f -= (long)scale;
  }
  *frac = f;
  return whole;
}
