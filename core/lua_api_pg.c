/* chat.pg: statements and transactions from a handler, yielding until PostgreSQL answers;
 * chat.pg.array (core/pg_array.c) for their array parameters. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_api.h"
#include "lua_task.h"
#include "pg.h"
#include "pg_array.h"
#include "runtime.h"

enum { MAX_PARAMS = 64 };

/* Type OIDs from pg_type.h that become Lua numbers and booleans. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

static const char TX_META[] = "chat.pg.tx";

typedef struct {
  chat_pg_pool *pool;
  chat_pg_conn *conn; /* NULL once committed or rolled back */
} pg_tx;

static const char POOL_CLOSED[] = "PostgreSQL pool is closed";

/* The `nil, message, sqlstate` triple every chat.pg failure returns. */
static int push_failure(lua_State *L, const char *message, const char *sqlstate) {
  lua_pushnil(L);
  lua_pushstring(L, message);
  lua_pushstring(L, sqlstate);
  return 3;
}

static void push_value(lua_State *L, const PGresult *res, int row, int col) {
  const char *v = PQgetvalue(res, row, col);
  switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
      lua_pushinteger(L, (lua_Integer)strtoll(v, NULL, 10));
      break;
    case OID_BOOL:
      lua_pushboolean(L, v[0] == 't');
      break;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
      lua_pushnumber(L, (lua_Number)strtod(v, NULL));
      break;
    default:
      lua_pushlstring(L, v, (size_t)PQgetlength(res, row, col));
  }
}

static void push_rows(lua_State *L, const PGresult *res) {
  int nrows = PQntuples(res), ncols = PQnfields(res);
  lua_createtable(L, nrows, 1);
  for (int r = 0; r < nrows; r++) {
    lua_createtable(L, 0, ncols);
    for (int c = 0; c < ncols; c++) {
      if (PQgetisnull(res, r, c)) continue; /* SQL NULL is an absent field */
      push_value(L, res, r, c);
      lua_setfield(L, -2, PQfname(res, c));
    }
    lua_rawseti(L, -2, r + 1);
  }
  const char *affected = PQcmdTuples((PGresult *)res);
  if (affected && *affected) {
    lua_pushinteger(L, (lua_Integer)strtoll(affected, NULL, 10));
    lua_setfield(L, -2, "affected");
  }
}

static void on_result(const PGresult *res, const char *err, const char *sqlstate, void *ud) {
  chat_task *t = ud;
  lua_State *co = chat_task_thread(t);
  if (res != NULL) {
    push_rows(co, res);
    chat_task_resume(t, 1);
  } else {
    chat_task_resume(t, push_failure(co, err, sqlstate));
  }
}

/* Converts the arguments from `first` on into text parameters and sends the statement. */
static int query_on(lua_State *L, chat_pg_pool *pool, chat_pg_conn *conn, int first) {
  const char *sql = luaL_checkstring(L, first);
  int n = lua_gettop(L) - first;
  if (n > MAX_PARAMS) return luaL_error(L, "at most %d parameters", MAX_PARAMS);
  const char *values[MAX_PARAMS];
  char numbuf[MAX_PARAMS][32];
  for (int i = 0; i < n; i++) {
    int idx = first + 1 + i;
    switch (lua_type(L, idx)) {
      case LUA_TNIL:
        values[i] = NULL;
        break;
      case LUA_TBOOLEAN:
        values[i] = lua_toboolean(L, idx) ? "t" : "f";
        break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
          snprintf(numbuf[i], sizeof numbuf[i], "%lld", (long long)lua_tointeger(L, idx));
        else
          snprintf(numbuf[i], sizeof numbuf[i], "%.17g", (double)lua_tonumber(L, idx));
        values[i] = numbuf[i];
        break;
      case LUA_TSTRING:
        values[i] = lua_tostring(L, idx);
        if (strlen(values[i]) != lua_rawlen(L, idx))
          return luaL_argerror(L, idx, "text parameters cannot contain NUL bytes");
        break;
      default:
        return luaL_argerror(L, idx, "parameters must be nil, booleans, numbers or strings");
    }
  }
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.pg is only usable from a handler's own coroutine");
  if (chat_pg_query(pool, conn, sql, n, values, on_result, t) < 0) {
    return push_failure(L, POOL_CLOSED, "57P01");
  }
  return chat_task_yield(L);
}

static int pg_query(lua_State *L) {
  return query_on(L, lua_touserdata(L, lua_upvalueindex(1)), NULL, 1);
}

/* ---- transactions ---- */

static pg_tx *check_tx(lua_State *L) {
  pg_tx *tx = luaL_checkudata(L, 1, TX_META);
  if (tx->conn == NULL) luaL_error(L, "the transaction is already finished");
  return tx;
}

/* While BEGIN is on its way the tx userdata is anchored in the registry: a suspended
 * coroutine's own stack is not ours to read. */
typedef struct {
  chat_task *task;
  pg_tx *tx;
  int ref;
} begin_ctx;

static void begin_resume(begin_ctx *b, int ok, const char *err, const char *sqlstate) {
  chat_task *t = b->task;
  lua_State *co = chat_task_thread(t);
  if (ok) lua_rawgeti(co, LUA_REGISTRYINDEX, b->ref);
  luaL_unref(co, LUA_REGISTRYINDEX, b->ref);
  free(b);
  if (ok) {
    chat_task_resume(t, 1);
    return;
  }
  chat_task_resume(t, push_failure(co, err, sqlstate));
}

static void on_begin_result(const PGresult *res, const char *err, const char *sqlstate, void *ud) {
  begin_ctx *b = ud;
  if (res == NULL) {
    chat_pg_unpin(b->tx->conn);
    b->tx->conn = NULL;
  }
  begin_resume(b, res != NULL, err, sqlstate);
}

static void on_pinned(chat_pg_conn *conn, const char *err, void *ud) {
  begin_ctx *b = ud;
  if (conn == NULL) {
    begin_resume(b, 0, err, "08006");
    return;
  }
  b->tx->conn = conn;
  if (chat_pg_query(b->tx->pool, conn, "BEGIN", 0, NULL, on_begin_result, b) < 0) {
    chat_pg_unpin(conn);
    b->tx->conn = NULL;
    begin_resume(b, 0, POOL_CLOSED, "57P01");
  }
}

static int pg_begin(lua_State *L) {
  chat_pg_pool *pool = lua_touserdata(L, lua_upvalueindex(1));
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.pg is only usable from a handler's own coroutine");
  begin_ctx *b = malloc(sizeof *b);
  b->task = t;
  b->tx = lua_newuserdatauv(L, sizeof *b->tx, 0);
  b->tx->pool = pool;
  b->tx->conn = NULL;
  luaL_setmetatable(L, TX_META);
  b->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (chat_pg_pin(pool, on_pinned, b) < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, b->ref);
    free(b);
    return push_failure(L, POOL_CLOSED, "57P01");
  }
  return chat_task_yield(L);
}

static int tx_query(lua_State *L) {
  pg_tx *tx = check_tx(L);
  return query_on(L, tx->pool, tx->conn, 2);
}

typedef struct {
  chat_task *task;
  chat_pg_conn *conn;
} finish_ctx;

static void on_finished(const PGresult *res, const char *err, const char *sqlstate, void *ud) {
  finish_ctx *f = ud;
  chat_task *t = f->task;
  chat_pg_unpin(f->conn);
  free(f);
  lua_State *co = chat_task_thread(t);
  if (res != NULL) {
    lua_pushboolean(co, 1);
    chat_task_resume(t, 1);
  } else {
    chat_task_resume(t, push_failure(co, err, sqlstate));
  }
}

static int tx_finish(lua_State *L, const char *sql) {
  pg_tx *tx = check_tx(L);
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.pg is only usable from a handler's own coroutine");
  finish_ctx *f = malloc(sizeof *f);
  f->task = t;
  f->conn = tx->conn;
  tx->conn = NULL; /* the userdata is done whatever the outcome */
  if (chat_pg_query(tx->pool, f->conn, sql, 0, NULL, on_finished, f) < 0) {
    chat_pg_unpin(f->conn);
    free(f);
    return push_failure(L, POOL_CLOSED, "57P01");
  }
  return chat_task_yield(L);
}

static int tx_commit(lua_State *L) { return tx_finish(L, "COMMIT"); }
static int tx_rollback(lua_State *L) { return tx_finish(L, "ROLLBACK"); }

static void on_gc_rollback(const PGresult *res, const char *err, const char *sqlstate, void *ud) {
  (void)res, (void)err, (void)sqlstate;
  chat_pg_unpin(ud);
}

/* A transaction abandoned without commit (its task failed hard) must not keep its
 * connection pinned forever: roll back and return it. */
static int tx_gc(lua_State *L) {
  pg_tx *tx = luaL_checkudata(L, 1, TX_META);
  if (tx->conn != NULL) {
    chat_pg_conn *conn = tx->conn;
    tx->conn = NULL;
    if (chat_pg_query(tx->pool, conn, "ROLLBACK", 0, NULL, on_gc_rollback, conn) < 0) chat_pg_unpin(conn);
  }
  return 0;
}

void chat_lua_api_pg_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg tx_methods[] = {
      {"query", tx_query}, {"commit", tx_commit}, {"rollback", tx_rollback}, {NULL, NULL}};
  if (luaL_newmetatable(L, TX_META)) {
    luaL_newlib(L, tx_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, tx_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {
      {"query", pg_query}, {"begin", pg_begin}, {"array", chat_pg_array_literal}, {NULL, NULL}};
  lua_pushlightuserdata(L, rt->pg);
  luaL_setfuncs(L, fns, 1);
}
