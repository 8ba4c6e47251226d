/* A small pool of non-blocking libpq connections driven by uv_poll, in pipeline mode so
 * statements from concurrent tasks share round trips. Connections that fail are
 * re-established in the background with backoff; callers see a clear error meanwhile. */
#ifndef CHAT_PG_H
#define CHAT_PG_H

#include <libpq-fe.h>
#include <uv.h>

typedef struct chat_pg_pool chat_pg_pool;
typedef struct chat_pg_conn chat_pg_conn; /* a connection pinned for a transaction */

/* `res` is the statement's result on success (owned by the pool: valid only during the
 * call). On failure res is NULL, `err` a message and `sqlstate` the SQLSTATE ("08006"
 * when no connection is available or it broke). */
typedef void (*chat_pg_result_cb)(const PGresult *res, const char *err, const char *sqlstate,
                                  void *ud);
typedef void (*chat_pg_pin_cb)(chat_pg_conn *conn, const char *err, void *ud);

/* statement_timeout_ms (CHAT_PG_STATEMENT_TIMEOUT_MS): the longest a statement waits for
 * its result; connect_timeout_ms (CHAT_PG_CONNECT_TIMEOUT_MS): the longest a connection
 * attempt may take. Past either, the connection is dropped and made again, and its
 * statements fail with SQLSTATE 08006 (the scripts answer 503). */
chat_pg_pool *chat_pg_pool_new(uv_loop_t *loop, const char *conninfo, int size, int statement_timeout_ms,
                               int connect_timeout_ms);

/* Queues one statement ($1..$n text parameters, NULL values are SQL NULL). `conn` is a
 * pinned connection, or NULL for any connection of the pool. The callback is always
 * called, later, never from inside this call. Returns 0, or -1 when the pool is closing. */
int chat_pg_query(chat_pg_pool *pool, chat_pg_conn *conn, const char *sql, int nparams,
                  const char *const *values, chat_pg_result_cb cb, void *ud);

/* Reserves a connection for a transaction: cb gets it once no other work is queued on
 * it. chat_pg_unpin() returns it to the pool (after COMMIT or ROLLBACK). */
int chat_pg_pin(chat_pg_pool *pool, chat_pg_pin_cb cb, void *ud);
void chat_pg_unpin(chat_pg_conn *conn);

/* Connected connections right now (health and metrics). */
int chat_pg_pool_connected(const chat_pg_pool *pool);
int chat_pg_pool_size(const chat_pg_pool *pool);

/* Connections dropped so far because a statement, or a connection attempt, timed out. */
void chat_pg_pool_timeouts(const chat_pg_pool *pool, unsigned long *statement, unsigned long *connect);

/* For metrics: statements (and transactions' pin requests) waiting for a connection,
 * statements sent and awaiting results, connections held by a transaction. */
void chat_pg_pool_stats(const chat_pg_pool *pool, size_t *queued, size_t *in_flight, size_t *pinned);

/* Fails queued work, closes every connection; on_closed runs after the last handle closed. */
void chat_pg_pool_close(chat_pg_pool *pool, void (*on_closed)(void *ud), void *ud);

/* libpq notice processor: PostgreSQL's notices ("relation already exists, skipping")
 * are not errors, so they go to the debug log instead of raw text on stderr. */
void chat_pg_log_notice(void *arg, const char *message);

#endif
