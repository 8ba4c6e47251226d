/* chat.pg.array(list[, field]): a PostgreSQL array literal of text elements, for the
 * parameters of statements that take many rows at once (`unnest($1::bigint[], ...)`). */
#ifndef CHAT_PG_ARRAY_H
#define CHAT_PG_ARRAY_H

#include <lua.h>

/* array = chat.pg.array(list[, field]): the list's elements (or each element's `field`)
 * as '{"1","x\"y",NULL}': strings and numbers quoted with `\` before `\` and `"`, nil as
 * NULL. Anything else raises. */
int chat_pg_array_literal(lua_State *L);

#endif
