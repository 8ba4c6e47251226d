/* Fuzzes what SockJS reads from clients and writes back (core/sockjs.c):
 *   - chat_sockjs_parse on the xhr_send / jsonp_send / WebSocket payload (a JSON array of
 *     strings, or one string);
 *   - chat_sockjs_escape, the inverse direction: every message parsed, and the raw input
 *     itself as an arbitrary outbound body, escaped and parsed back; valid UTF-8 must come
 *     back unchanged, anything else must come back valid UTF-8 (bytes replaced by U+FFFD);
 *   - chat_sockjs_split_path on the input as a URL path, with the server's buffer sizes
 *     and with tiny ones.
 * An input is the payload and the path at once: no option bytes. */
#include <string.h>

#include "fuzz_support.h"
#include "sockjs.h"
#include "ws.h"

/* Escapes `s` as sockjs_conn.c does for an "a[...]" frame, checks the result, and
 * returns it parsed back as a JSON string (freed by the caller). */
static chat_sockjs_messages escape_and_parse(const char *s, size_t len) {
  size_t need = chat_sockjs_escape(NULL, s, len);
  char *quoted = malloc(need + 2);
  if (quoted == NULL) abort();
  quoted[0] = '"';
  FUZZ_ASSERT(chat_sockjs_escape(quoted + 1, s, len) == need);
  quoted[need + 1] = '"';
  /* What goes on the wire: valid UTF-8, no raw control character, no lone quote. */
  FUZZ_ASSERT(chat_ws_utf8_valid((const uint8_t *)quoted, need + 2));
  for (size_t i = 1; i <= need; i++) {
    FUZZ_ASSERT((unsigned char)quoted[i] >= 0x20);
    if (quoted[i] == '\\') i++; /* skip the escaped character */
    else FUZZ_ASSERT(quoted[i] != '"');
  }
  chat_sockjs_messages back;
  int rc = chat_sockjs_parse(quoted, need + 2, &back);
  FUZZ_ASSERT(rc == 0 && back.count == 1);
  free(quoted);
  return back;
}

static void check_round_trip(const char *s, size_t len) {
  chat_sockjs_messages back = escape_and_parse(s, len);
  FUZZ_ASSERT(chat_ws_utf8_valid((const uint8_t *)back.items[0], back.lens[0]));
  if (chat_ws_utf8_valid((const uint8_t *)s, len))
    FUZZ_ASSERT(back.lens[0] == len && memcmp(back.items[0], s, len) == 0);
  chat_sockjs_messages_free(&back);
}

static int only_whitespace(const uint8_t *data, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (!strchr(" \t\r\n", data[i]) || data[i] == '\0') return 0;
  return 1;
}

static void check_split_path(const char *path, size_t scap, size_t sesscap, size_t tcap) {
  /* Exact-size heap buffers, so a write past a capacity is an ASan report. */
  char *server = malloc(scap), *session = malloc(sesscap), *transport = malloc(tcap);
  if (server == NULL || session == NULL || transport == NULL) abort();
  if (chat_sockjs_split_path(path, server, scap, session, sesscap, transport, tcap) == 0) {
    FUZZ_ASSERT(strlen(server) > 0 && strlen(server) < scap && !strpbrk(server, "./"));
    FUZZ_ASSERT(strlen(session) > 0 && strlen(session) < sesscap && !strpbrk(session, "./"));
    FUZZ_ASSERT(strlen(transport) > 0 && strlen(transport) < tcap && !strchr(transport, '/'));
  }
  free(server);
  free(session);
  free(transport);
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  chat_sockjs_messages m;
  int rc = chat_sockjs_parse((const char *)data, size, &m);
  FUZZ_ASSERT(rc == 0 || rc == -1 || rc == -2);
  FUZZ_ASSERT((rc == -2) == only_whitespace(data, size));
  if (rc == 0) {
    for (size_t i = 0; i < m.count; i++) {
      FUZZ_ASSERT(m.items[i] != NULL && m.items[i][m.lens[i]] == '\0');
      check_round_trip(m.items[i], m.lens[i]);
    }
    chat_sockjs_messages_free(&m);
  } else {
    FUZZ_ASSERT(m.count == 0 && m.items == NULL);
  }
  check_round_trip((const char *)data, size);

  char *path = malloc(size + 1);
  if (path == NULL) abort();
  memcpy(path, data, size);
  path[size] = '\0';
  check_split_path(path, 128, 128, 32); /* sockjs_conn.c's sizes */
  check_split_path(path, 3, 4, 2);
  free(path);
  return 0;
}
