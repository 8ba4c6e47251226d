/* Fuzzes the STOMP parser (core/stomp.c) and its encoder:
 *   - differential: the same bytes fed at once and in reads of sizes the input chooses
 *     must give the same frames, heart-beats and outcome, since a session cannot choose
 *     how TCP splits its bytes (the parser resumes incomplete frames from saved offsets,
 *     the part most worth checking);
 *   - round trip: every frame parsed, encoded again by chat_stomp_encode_frame() with the
 *     same version and parsed again, must give the same command, headers and body.
 *
 * Input: [read sizes seed] [options] [bytes...]; options bits 0-1 pick the version (1.0,
 * 1.1, 1.2, 1.2), bit 2 a small frame limit, bit 3 a small header count limit. */
#include <string.h>

#include "bytes.h"
#include "fuzz_support.h"
#include "stomp.h"

typedef struct parse_log {
  chat_bytes events; /* every frame and heart-beat, serialised, to compare two parses */
  chat_stomp_version version;
  chat_stomp_limits limits;
  int stopped; /* the callback asked to stop, as after DISCONNECT */
} parse_log;

static void put(chat_bytes *b, const void *p, size_t n) {
  if (chat_bytes_put(b, p, n) < 0) abort();
}

static void put_str(chat_bytes *b, const char *s) { put(b, s, strlen(s) + 1); }

/* Whether encoding can give this frame back. Where the encoder has no escape for CR
 * (STOMP 1.0 and 1.1, and CONNECT/CONNECTED in every version), a value ending in CR reads
 * back without it, since a line may end in CRLF; and a name cut to "" by a NUL byte
 * cannot be written at all. These are limits of the protocol, not of the code. */
static int representable(const chat_stomp_frame *f, chat_stomp_version v) {
  int cr_escaped = v >= CHAT_STOMP_V12 && strcmp(f->command, "CONNECT") != 0 &&
                   strcmp(f->command, "CONNECTED") != 0;
  for (size_t i = 0; i < f->header_count; i++) {
    const char *value = f->headers[i].value;
    size_t vl = strlen(value);
    if (f->headers[i].name[0] == '\0') return 0;
    if (!cr_escaped && vl > 0 && value[vl - 1] == '\r') return 0;
  }
  return 1;
}

typedef struct reparsed {
  const chat_stomp_frame *original;
  int frames;
} reparsed;

static int compare_frame(const chat_stomp_frame *f, void *ud) {
  reparsed *r = ud;
  const chat_stomp_frame *o = r->original;
  FUZZ_ASSERT(f != NULL); /* no heart-beat: the encoding starts with the command */
  FUZZ_ASSERT(++r->frames == 1);
  FUZZ_ASSERT(strcmp(f->command, o->command) == 0);
  FUZZ_ASSERT(f->header_count == o->header_count);
  for (size_t i = 0; i < f->header_count; i++) {
    FUZZ_ASSERT(strcmp(f->headers[i].name, o->headers[i].name) == 0);
    FUZZ_ASSERT(strcmp(f->headers[i].value, o->headers[i].value) == 0);
  }
  FUZZ_ASSERT(f->body_len == o->body_len && memcmp(f->body, o->body, f->body_len) == 0);
  return 0;
}

static void round_trip(const chat_stomp_frame *f, const parse_log *log) {
  if (!representable(f, log->version)) return;
  const char **headers = malloc((2 * f->header_count + 1) * sizeof *headers);
  if (headers == NULL) abort();
  for (size_t i = 0; i < f->header_count; i++) {
    headers[2 * i] = f->headers[i].name;
    headers[2 * i + 1] = f->headers[i].value;
  }
  headers[2 * f->header_count] = NULL;
  size_t len = 0;
  char *encoded = chat_stomp_encode_frame(log->version, f->command, headers, f->body, f->body_len, &len);
  free(headers);
  if (encoded == NULL) abort();
  FUZZ_ASSERT(encoded[len - 1] == '\0');
  /* Escaping may double a header's size: room for that, and the same header count. */
  chat_stomp_limits roomy = {.max_frame_bytes = 2 * len + 16, .max_headers = log->limits.max_headers};
  chat_stomp_parser *p = chat_stomp_parser_new(&roomy);
  if (p == NULL) abort();
  chat_stomp_parser_set_version(p, log->version);
  reparsed r = {.original = f};
  const char *err = NULL;
  int rc = chat_stomp_parser_feed(p, encoded, len, compare_frame, &r, &err);
  if (rc != 0) fprintf(stderr, "re-parse failed: %s\n", err);
  FUZZ_ASSERT(rc == 0 && r.frames == 1 && chat_stomp_parser_buffered(p) == 0);
  chat_stomp_parser_free(p);
  free(encoded);
}

static int on_frame(const chat_stomp_frame *f, void *ud) {
  parse_log *log = ud;
  if (f == NULL) {
    put(&log->events, "H", 1);
    return 0;
  }
  FUZZ_ASSERT(f->command != NULL && f->command[0] != '\0');
  FUZZ_ASSERT(f->body != NULL && f->body[f->body_len] == '\0');
  FUZZ_ASSERT(f->header_count <= log->limits.max_headers);
  put(&log->events, "F", 1);
  put_str(&log->events, f->command);
  for (size_t i = 0; i < f->header_count; i++) {
    put_str(&log->events, f->headers[i].name);
    put_str(&log->events, f->headers[i].value);
  }
  put(&log->events, &f->body_len, sizeof f->body_len);
  put(&log->events, f->body, f->body_len);
  round_trip(f, log);
  /* As stomp_session.c does after DISCONNECT: stop reading. */
  log->stopped = strcmp(f->command, "DISCONNECT") == 0;
  return log->stopped;
}

/* Feeds the bytes in reads cut by `chunks` (NULL: at once); returns -1 on a protocol error. */
static int parse(parse_log *log, const uint8_t *data, size_t size, fuzz_chunks *chunks) {
  chat_stomp_parser *p = chat_stomp_parser_new(&log->limits);
  if (p == NULL) abort();
  chat_stomp_parser_set_version(p, log->version);
  int rc = 0;
  for (size_t off = 0; off < size;) {
    size_t n = chunks ? fuzz_chunks_next(chunks, size - off) : size - off;
    const char *err = NULL;
    rc = chat_stomp_parser_feed(p, (const char *)data + off, n, on_frame, log, &err);
    off += n;
    if (rc < 0) {
      FUZZ_ASSERT(err != NULL);
      break;
    }
    if (log->stopped) {
      put(&log->events, "S", 1);
      FUZZ_ASSERT(chat_stomp_parser_feed(p, "\n", 1, on_frame, log, &err) == -1);
      break;
    }
    /* Only an incomplete frame is kept, and never more than the frame limit. */
    FUZZ_ASSERT(chat_stomp_parser_buffered(p) < log->limits.max_frame_bytes);
  }
  chat_stomp_parser_free(p);
  return rc;
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static const chat_stomp_version versions[] = {CHAT_STOMP_V10, CHAT_STOMP_V11, CHAT_STOMP_V12,
                                                CHAT_STOMP_V12};
  fuzz_chunks chunks;
  fuzz_chunks_init(&chunks, data[0]);
  uint8_t options = data[1];
  parse_log whole = {.version = versions[options & 3],
                     .limits = {.max_frame_bytes = options & 4 ? 256 : 64 * 1024,
                                .max_headers = options & 8 ? 4 : 64}};
  parse_log split = whole;
  int rc_whole = parse(&whole, data + 2, size - 2, NULL);
  int rc_split = parse(&split, data + 2, size - 2, &chunks);
  FUZZ_ASSERT(rc_whole == rc_split);
  FUZZ_ASSERT(whole.events.len == split.events.len);
  FUZZ_ASSERT(whole.events.len == 0 || memcmp(whole.events.data, split.events.data, whole.events.len) == 0);
  free(whole.events.data);
  free(split.events.data);
  return 0;
}
