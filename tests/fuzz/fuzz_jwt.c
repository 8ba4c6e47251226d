/* Fuzzes the token path of CHAT_AUTH=jwt: lua/chat/auth/jwt.lua's verify, with chat.crypto's
 * real C bindings (core/lua_api_crypto.c) underneath, in embedded Lua 5.4 as chatd runs it.
 * Every bearer token and access_token a client sends goes through jwt.verify before chatd
 * believes an identity.
 *
 * The keys are the kinds chatd loads: the HS256 secret "fuzz-secret" and one RSA-2048
 * public key (below), both as a kid ("k1") and as the default. The clock is fixed
 * (chat.now() = 1700000000), so an input verifies the same way on every run.
 *
 * The contract checked: verify never throws; it returns a claims table and nothing else,
 * or nil and one of the reasons jwt.lua exports (M.MALFORMED ... M.AUDIENCE). And claims
 * come only with a valid signature: the fuzzer cannot forge RS256, so a token accepted
 * must be HS256 with the HMAC of "fuzz-secret" over its first two parts, which the harness
 * recomputes on its own (its own split, base64url decoder and header check; only the HMAC
 * is chat.crypto's), and its claims must satisfy iss, aud, exp and nbf. A thrown error or a
 * broken rule aborts with the message.
 * Lua lines count as coverage (fuzz_lua.h): the decisions are in Lua. */
#include <string.h>

#include "fuzz_lua.h"
#include "fuzz_support.h"
#include "lua_api.h"

/* An RSA-2048 public key made for this harness (its private half was not kept): RS256
 * tokens reach a real signature check, which no fuzzed input can pass. */
static const char RSA_PUBLIC_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA/GUoE9mRTVyxC2kpqYYO\n"
    "CiSFjV+hjrfF/pgqAd5wGO0Oy5g3C2y1O/YTd3jzJI2MoDKezATndcoD2RIPCXP+\n"
    "kYRpfzwfiFyaGvBa/NFBoQKHcXBQY18QxLuIeVb+FBd3npo1wAFWlR/LVm68LYkx\n"
    "JpZi8R3lLlZ8d2bn4NbMuqeW3gYXywsf6rtosPVln+IPO2CwxlpJ9zfzvsHCQpn5\n"
    "TRUmAONe7urHHRfv3bULFZxkkCSVheHL4OT3CgPbNfgVso7EdcX3MtJHK0/S4Ex+\n"
    "m2Qzc0wXRHusUjEyVRiapZIN41/pSyrYlXpB5uXPtrnkwPgXkxqPj6m+rbWyDX+j\n"
    "LwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* Run once with (chat.core table, PEM); returns the checker for one token. */
static const char CHECKER[] =
    "local core, pem = ...\n"
    "local NOW, SECRET, LEEWAY = 1700000000, 'fuzz-secret', 30\n"
    "core.now = function() return NOW end\n"
    "local function nop() end\n"
    "core.log = { debug = nop, info = nop, warn = nop, error = nop }\n"
    "local jwt = require 'chat.auth.jwt'\n"
    "local json = require 'chat.lib.json'\n"
    "local crypto = core.crypto\n"
    "local key, why = crypto.public_key_pem(pem)\n"
    "if not key then error('the embedded RSA key is refused: ' .. tostring(why), 0) end\n"
    "local keys = { secret = SECRET, rsa = { k1 = key }, rsa_default = key }\n"
    "local opts = { issuer = 'iss', audience = 'aud', leeway = LEEWAY }\n"
    "local REASONS = {}\n"
    "for _, name in ipairs { 'MALFORMED', 'ALGORITHM', 'UNKNOWN_KEY', 'SIGNATURE', 'EXPIRED',\n"
    "                        'NOT_YET', 'ISSUER', 'AUDIENCE' } do\n"
    "  if type(jwt[name]) ~= 'string' then error('jwt.' .. name .. ' is not a reason string', 0) end\n"
    "  REASONS[jwt[name]] = true\n"
    "end\n"
    /* base64url of RFC 4648 §5 without padding, written apart from the C decoder: the
     * leftover bits of a short last group are ignored, as the C decoder documents. */
    "local ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'\n"
    "local VALUE = {}\n"
    "for i = 1, 64 do VALUE[ALPHABET:byte(i)] = i - 1 end\n"
    "local function b64url(s)\n"
    "  if #s % 4 == 1 then return nil end\n"
    "  local out, acc, bits = {}, 0, 0\n"
    "  for i = 1, #s do\n"
    "    local v = VALUE[s:byte(i)]\n"
    "    if not v then return nil end\n"
    "    acc, bits = ((acc << 6) | v) & 0xffffff, bits + 6\n"
    "    if bits >= 8 then\n"
    "      bits = bits - 8\n"
    "      out[#out + 1] = string.char((acc >> bits) & 0xff)\n"
    "    end\n"
    "  end\n"
    "  return table.concat(out)\n"
    "end\n"
    "local function fail(what, token) error(what .. ' for token ' .. string.format('%q', token), 0) end\n"
    "local function is_number(v) return math.type(v) ~= nil end\n"
    "return function(token)\n"
    "  local ok, claims, reason, extra = pcall(jwt.verify, token, keys, opts)\n"
    "  if not ok then fail('jwt.verify threw: ' .. tostring(claims), token) end\n"
    "  if extra ~= nil then fail('jwt.verify returned more than two values', token) end\n"
    "  if claims == nil then\n"
    "    if not REASONS[reason] then fail('refused with an unknown reason ' .. tostring(reason), token) end\n"
    "    return\n"
    "  end\n"
    "  if type(claims) ~= 'table' then fail('jwt.verify returned a ' .. type(claims), token) end\n"
    "  if reason ~= nil then fail('jwt.verify returned claims and a reason', token) end\n"
    /* Accepted: it must be what only the holder of the secret can make. */
    "  local h64, p64, s64 = token:match('^([^.]+)%.([^.]+)%.([^.]*)$')\n"
    "  if not h64 then fail('claims for a token that is not three parts', token) end\n"
    "  local header = json.decode(b64url(h64) or '')\n"
    "  if type(header) ~= 'table' or header.alg ~= 'HS256' then fail('claims for a token whose alg is not HS256', token) end\n"
    "  local mac = crypto.hmac_sha256(SECRET, h64 .. '.' .. p64)\n"
    "  if b64url(s64) ~= mac then fail('claims for a token without the HMAC of the secret', token) end\n"
    "  local payload = json.decode(b64url(p64) or '')\n"
    "  if type(payload) ~= 'table' then fail('claims for a payload that is not a JSON object', token) end\n"
    "  if claims.iss ~= 'iss' then fail('claims with iss ' .. tostring(claims.iss), token) end\n"
    "  local aud_ok = claims.aud == 'aud'\n"
    "  if type(claims.aud) == 'table' then\n"
    "    for _, a in ipairs(claims.aud) do aud_ok = aud_ok or a == 'aud' end\n"
    "  end\n"
    "  if not aud_ok then fail('claims without the audience', token) end\n"
    "  if claims.exp ~= nil and not (is_number(claims.exp) and claims.exp >= NOW - LEEWAY) then\n"
    "    fail('claims with a bad or past exp', token)\n"
    "  end\n"
    "  if claims.nbf ~= nil and not (is_number(claims.nbf) and claims.nbf <= NOW + LEEWAY) then\n"
    "    fail('claims with a bad or future nbf', token)\n"
    "  end\n"
    "end\n";

static lua_State *L;
static int checker_ref;

static void start_lua(void) {
  L = fuzz_lua_start();
  lua_getglobal(L, "package");
  /* package.loaded["chat.core"]: the crypto bindings; the checker adds now and log. */
  lua_getfield(L, -1, "loaded");
  lua_newtable(L);
  lua_newtable(L); /* chat.core.crypto, filled as lua_vm.c fills it */
  chat_lua_api_crypto_inject(L, NULL);
  lua_setfield(L, -2, "crypto");
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "chat.core");
  lua_replace(L, 1); /* stack: core, loaded */
  lua_settop(L, 1);
  if (luaL_loadbuffer(L, CHECKER, sizeof CHECKER - 1, "=fuzz_jwt") != LUA_OK) {
    fprintf(stderr, "fuzz_jwt: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_insert(L, 1); /* stack: chunk, core */
  lua_pushlstring(L, RSA_PUBLIC_PEM, sizeof RSA_PUBLIC_PEM - 1);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_jwt: %s\n", lua_tostring(L, -1));
    abort();
  }
  checker_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);
  fuzz_lua_hook(L);
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) start_lua();
  fuzz_lua_check(L, "fuzz_jwt", checker_ref, data, size);
  return 0;
}
