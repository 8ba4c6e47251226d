/* The statements a PostgreSQL connection has prepared, by SQL text. Parsing and planning
 * a statement costs the server more than running a small INSERT, so each connection
 * prepares a statement the first time it sends it and later sends only its name and
 * parameters. Pure bookkeeping: the pool (pg.c) does the protocol. */
#ifndef CHAT_PG_STATEMENTS_H
#define CHAT_PG_STATEMENTS_H

#include <stdint.h>

enum {
  /* Slots per connection. The application's SQL is a fixed set of texts (a few dozen);
   * a text built with inlined values would never repeat, so once the table is three
   * quarters full further texts are simply sent unprepared. */
  CHAT_PG_STATEMENT_SLOTS = 512,
  CHAT_PG_STATEMENT_NAME_MAX = 24
};

typedef struct {
  uint64_t hash;
  char *sql;    /* NULL: empty, or forgotten when `used` */
  int used;     /* a forgotten slot keeps probing sequences intact */
} chat_pg_statement;

typedef struct {
  chat_pg_statement slots[CHAT_PG_STATEMENT_SLOTS];
  int used;
} chat_pg_statements;

/* Finds `sql`: returns its slot (>= 0) and sets *is_new when it has to be prepared first,
 * or -1 when it should be sent unprepared (table full, out of memory). */
int chat_pg_statements_lookup(chat_pg_statements *t, const char *sql, int *is_new);

/* The server-side name of a slot's statement. */
void chat_pg_statements_name(int slot, char out[CHAT_PG_STATEMENT_NAME_MAX]);

/* Its preparation failed: the next use prepares it again under another slot. */
void chat_pg_statements_forget(chat_pg_statements *t, int slot);

/* A new server session knows none of them. */
void chat_pg_statements_clear(chat_pg_statements *t);

#endif
