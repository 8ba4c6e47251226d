--[[ The Lua API of chatd: the only door between the C core and the application.

The C core provides the primitives as the preloaded module "chat.native"; this module
adds what is better written in Lua (transactions) and is what the application requires:

    local chat = require "chat.core"

Every handler runs in its own coroutine. A call that does I/O yields until its result
arrives; nothing blocks the event loop. Expected failures are returned as `nil, err`
(never raised) so the business code decides what to answer; programmer errors raise.

PostgreSQL
  rows, err, sqlstate = chat.pg.query(sql, ...)
      `$1..$n` parameters: nil -> NULL, boolean, integer, number, string.
      rows: array of rows, each a table keyed by column name. int2/int4/int8 become Lua
      integers, bool booleans, float/numeric numbers, SQL NULL nil, anything else the
      text PostgreSQL sends (timestamps as "2025-01-09 14:30:00.123456"; chat/lib/db.lua selects
      them as seconds since the epoch instead, see db.timestamp).
      rows.affected: rows changed by INSERT/UPDATE/DELETE.
      On failure: nil, message, SQLSTATE ("08006" when no connection is available).
  result, err, sqlstate = chat.pg.transaction(function(tx) ... end)
      tx.query(sql, ...) as chat.pg.query, on one connection inside BEGIN/COMMIT.
      The function's first result is returned after COMMIT. If it raises, or returns
      nil, err, the transaction is rolled back and nil, err, sqlstate is returned.
  array = chat.pg.array(list[, field])
      a PostgreSQL array literal of the list's elements (or of each element's field), for
      statements taking many rows as arrays: '{"1","a\"b",NULL}' (nil is NULL)

Redis
  reply, err = chat.redis.call(cmd, ...)
      integer replies are integers, bulk and status replies strings, arrays tables,
      a nil reply is chat.null. An error reply or a lost connection: nil, message.
  replies, errors = chat.redis.pipeline{ {cmd, ...}, {cmd, ...}, ... }
      every command sent at once (one round trip; on a cluster each to its slot's node),
      yielding until all are answered: replies[i] as chat.redis.call's reply; errors is nil
      when none failed, else errors[i] is command i's message (1 to 1024 commands).
  n, err = chat.redis.publish(channel, payload)
  n, err = chat.redis.publish_room(channel, room_id, payload)
      a room's event: on `channel`, or with CHAT_REDIS_PUBSUB=sharded on the room's own
      channel "<channel>:{<room_id>}" (SPUBLISH; chat.redis.sharded says which).
      A command unanswered for CHAT_REDIS_TIMEOUT_MS fails with "Redis did not answer in
      time"; while the link is being made again, calls fail at once ("Redis is unavailable").

STOMP (delivery to this process's subscribers; the core encodes each body once)
  n = chat.stomp.broadcast(destination, body[, headers])
      a MESSAGE to every local subscription of `destination`; headers: a table of extra
      header names and values (content-type defaults to application/json); n deliveries.
  n = chat.stomp.send_to_session(session_id, destination, body[, headers])
      to the subscriptions of one session (by the opaque id the handlers receive) to a
      session-scoped destination such as "/user/queue/errors".

Kafka
  ok, err = chat.kafka.produce(topic, key, value[, headers])
      yields until the broker acknowledged it (or CHAT_KAFKA_PRODUCE_TIMEOUT_MS passed).
  state = chat.kafka.state()  {assigned = partitions, backlog = records, error = last error},
                              nil when CHAT_KAFKA_ENABLED=0

JSON (core/json_decode.c; lua/chat/lib/json.lua wraps it)
  decode = chat.json.decoder{null = v, object = mt, array = mt, max_depth = 64, allow_nul = false}
  value | nil, reason = decode(text)   strict RFC 8259: "invalid number at position 12"
  chat.json.quote(s)        s as a JSON string literal, escaped as Jackson does
  write = chat.json.object_writer{ {json key, row key, kind}, ... }
      kind "integer", "string" or "localtime" (seconds since the epoch, written as
      chat.localtime does); text, n = write(rows) writes the rows (tables, as chat.pg
      returns them) as objects with those fields in that order, joined by commas; an
      absent field is null (lua/chat/lib/json.lua: json.object_writer)

Misc
  chat.null                 the value of a nil Redis reply (a light userdata)
  chat.sleep(seconds)       yields for that long
  chat.task_id()            an id for the running task (for chat.wake)
  ... = chat.wait()         suspends the running task until chat.wake(id, ...) gives it values
  ok = chat.wake(id, ...)   resumes a waiting task on the next loop turn with `...`;
                            false when that task is not waiting (a stale or repeated id)
  chat.now()                wall-clock seconds (float, microsecond precision)
  chat.localtime(seconds[, zone])  "YYYY-MM-DDTHH:MM:SS[.ffffff]" in the zone, or the
                            process's TZ without one (zones: a tz region, UTC or +09:00)
  chat.offsettime(seconds, zone)   "YYYY-MM-DDTHH:MM:SS.mmm+09:00", as Jackson writes a Date
  chat.log.debug|info|warn|error(fmt, ...)
  chat.config               read-only copy of the configuration (port, app_name, ...)
  chat.health()             {pg = {connected=n, size=n}, redis = {connected=bool}}
  chat.stopping()           true once a graceful stop began (readiness goes DOWN)

Access control (docs/access-control.md; the rules are lua/chat/auth/access.lua's)
  chat.origin_allowed(origin)         CHAT_ALLOWED_ORIGINS, as the handshakes check it
  text, version = chat.jwks(known)    CHAT_JWT_JWKS_URL's key set as last fetched (nil before
                                      the first fetch, and while the version is `known`)
  chat.jwks_refresh()                 fetch it again now (at most once per 30 s)
  chat.crypto.hmac_sha256(key, data)  -> 32 raw bytes
  chat.crypto.b64url_decode(s)        -> bytes | nil, reason
  chat.crypto.public_key_pem(pem)     -> key | nil, reason   (RSA, 2048 to 16384 bits)
  chat.crypto.public_key_jwk(n, e)    -> key | nil, reason
  chat.crypto.verify_rs256(key, data, signature) -> boolean
  chat.crypto.equal(a, b)             constant-time comparison
  chat.crypto.inet_pton(addr)         -> 4 or 16 bytes | nil (IPv4-mapped IPv6 as 4)

Metrics (kept in C, core/metrics.c; docs/metrics.md)
  chat.metrics.render()               the Prometheus text for /actuator/prometheus
  chat.metrics.message_stored(type)   one chat message of that type was stored
  chat.metrics.access_denied(reason)  a refusal: "unauthenticated", "forbidden", "internal", ...
  chat.metrics.history_cache(outcome) a newest history page: "hit", "miss" or "bypass"
  chat.metrics.send_failed(outcome)   a SEND answered with an error: "refused" or "failed"
  chat.metrics.dead_letter(topic)     a Kafka record dead-lettered to `topic`
  chat.metrics.redis_unrouted()       a chat message from Redis for a room nobody here subscribes to
  HTTP requests are observed by the core: app.http returns the route pattern as its
  fourth value (see chat/init.lua).
]]

local native = require "chat.native"

local chat = {}
for k, v in pairs(native) do chat[k] = v end

-- A room's events go on its own sharded channel "<channel>:{<room>}" under
-- CHAT_REDIS_PUBSUB=sharded (only instances with subscribers to the room listen there, on
-- the shard owning the room's slot), else on the global channel every instance hears.
local sharded = native.config ~= nil and native.config.redis_pubsub == "sharded"
local function room_channel(channel, room_id) return string.format("%s:{%d}", channel, room_id) end

chat.redis = {
  call = native.redis.call,
  pipeline = native.redis.pipeline,
  publish = function(channel, payload) return native.redis.call("PUBLISH", channel, payload) end,
  sharded = sharded,
  room_channel = room_channel,
  publish_room = sharded
      and function(channel, room_id, payload)
        return native.redis.call("SPUBLISH", room_channel(channel, room_id), payload)
      end
      or function(channel, _, payload) return native.redis.call("PUBLISH", channel, payload) end,
}

local pg = {}
for k, v in pairs(native.pg) do pg[k] = v end
chat.pg = pg

local function finish(tx, ok, result, err, sqlstate)
  if ok and result ~= nil then
    local committed, cerr, cstate = tx:commit()
    if committed then return result end
    return nil, cerr, cstate
  end
  tx:rollback()
  if not ok then
    -- A raised error is a programmer error: keep the traceback-free message for the caller
    -- and log it so it is never silently swallowed.
    chat.log.error("transaction aborted by an error: %s", tostring(result))
    return nil, tostring(result), "XX000"
  end
  return nil, err, sqlstate
end

function pg.transaction(fn)
  local tx, err, sqlstate = native.pg.begin()
  if not tx then return nil, err, sqlstate end
  local handle = {
    query = function(sql, ...) return tx:query(sql, ...) end,
  }
  return finish(tx, pcall(fn, handle))
end

return chat
