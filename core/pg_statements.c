/* Open addressing on the SQL text's hash; see pg_statements.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pg_statements.h"

int chat_pg_statements_lookup(chat_pg_statements *t, const char *sql, int *is_new) {
  uint64_t h = chat_hash_str(sql);
  *is_new = 0;
  for (unsigned i = 0; i < CHAT_PG_STATEMENT_SLOTS; i++) {
    int slot = (int)((h + i) % CHAT_PG_STATEMENT_SLOTS);
    chat_pg_statement *s = &t->slots[slot];
    if (s->sql && s->hash == h && strcmp(s->sql, sql) == 0) return slot;
    if (s->used) continue; /* another text, or a forgotten one: keep probing */
    if (t->used >= CHAT_PG_STATEMENT_SLOTS * 3 / 4) return -1;
    s->sql = strdup(sql);
    if (s->sql == NULL) return -1;
    s->hash = h;
    s->used = 1;
    t->used++;
    *is_new = 1;
    return slot;
  }
  return -1;
}

void chat_pg_statements_name(int slot, char out[CHAT_PG_STATEMENT_NAME_MAX]) {
  snprintf(out, CHAT_PG_STATEMENT_NAME_MAX, "chatd_%d", slot);
}

void chat_pg_statements_forget(chat_pg_statements *t, int slot) {
  free(t->slots[slot].sql);
  t->slots[slot].sql = NULL; /* `used` stays set: a tombstone */
}

void chat_pg_statements_clear(chat_pg_statements *t) {
  for (int i = 0; i < CHAT_PG_STATEMENT_SLOTS; i++) free(t->slots[i].sql);
  memset(t, 0, sizeof *t);
}
