/* chat.crypto: the primitives that access control (CHAT_AUTH, issue 9) needs and Lua
 * cannot do itself: HMAC-SHA256 and RS256 verification for JWTs, base64url,
 * constant-time comparison, and address parsing for the CIDR rules (trusted proxies,
 * internal networks). lua/chat/auth/jwt.lua parses the token, picks the key and checks the
 * claims; C does only the crypto, through OpenSSL 3's EVP interfaces.
 *
 * Tokens come from clients and keys from configuration files, so bad input data is an
 * answer, never an error: nil and a reason, or false. Only wrong argument types raise.
 * OpenSSL's error queue is per thread and shared with libpq's and libcurl's TLS on this
 * loop: every path that can leave entries there clears it, so they are not reported
 * later as someone else's failure. */
#include <arpa/inet.h>
#include <lauxlib.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lua_api.h"

static const char KEY_META[] = "chat.crypto.key";

/* Under 2048 bits an RSA key is within reach of a factoring effort (NIST SP 800-131A);
 * over 16384 OpenSSL refuses to use it, so it would fail every token without a word. */
enum { RSA_MIN_BITS = 2048, RSA_MAX_BITS = 16384, JWK_MAX_BYTES = RSA_MAX_BITS / 8 + 1 };

/* The userdata is made before the key, so a Lua memory error cannot leak an EVP_PKEY;
 * pkey stays NULL if the key is refused (or after __gc). */
typedef struct {
  EVP_PKEY *pkey;
} crypto_key;

static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

/* crypto.hmac_sha256(key, data) -> the 32-byte MAC. EVP_Q_mac takes size_t lengths, where
 * HMAC() takes an int key length. */
static int hmac_sha256(lua_State *L) {
  size_t klen, dlen, maclen = 0;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *data = luaL_checklstring(L, 2, &dlen);
  unsigned char mac[32];
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, (const unsigned char *)data, dlen, mac,
                sizeof mac, &maclen) == NULL ||
      maclen != sizeof mac) {
    ERR_clear_error();
    return luaL_error(L, "HMAC-SHA256 failed");
  }
  lua_pushlstring(L, (const char *)mac, maclen);
  return 1;
}

/* ---- base64url (RFC 4648 §5), the only encoding inside a JWT and a JWK ---- */

/* 0..63, or -1 for anything else: '+' and '/' too, a JWT is base64url only. */
static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* NULL if s is base64url, with *len shortened past its '=' padding; else why not. JWTs
 * have no padding, but JWKS files written by some tools do: it is tolerated when it is
 * the right padding. */
static const char *b64url_check(const char *s, size_t *len) {
  size_t n = *len, pad = 0;
  while (pad < 2 && n > 0 && s[n - 1] == '=') n--, pad++;
  for (size_t i = 0; i < n; i++)
    if (b64url_value((unsigned char)s[i]) < 0) return "invalid base64url character";
  if (n % 4 == 1) return "invalid base64url length"; /* 6 bits cannot end a byte */
  if (pad > 0 && (n + pad) % 4 != 0) return "invalid base64url padding";
  *len = n;
  return NULL;
}

static size_t b64url_decoded_len(size_t n) { return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0); }

/* s must have passed b64url_check. The leftover bits of a short last group are ignored,
 * as most decoders do: a signature is checked over the text, not over these bytes. */
static void b64url_decode_into(const char *s, size_t n, unsigned char *out) {
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 6) | (uint32_t)b64url_value((unsigned char)s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out++ = (unsigned char)(acc >> bits);
    }
  }
}

/* crypto.b64url_decode(s) -> the bytes, or nil, reason */
static int b64url_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *why = b64url_check(s, &n);
  if (why) return fail(L, why);
  size_t outlen = b64url_decoded_len(n);
  luaL_Buffer b;
  b64url_decode_into(s, n, (unsigned char *)luaL_buffinitsize(L, &b, outlen));
  luaL_pushresultsize(&b, outlen);
  return 1;
}

/* ---- RSA public keys ---- */

static crypto_key *new_key(lua_State *L) {
  crypto_key *k = lua_newuserdatauv(L, sizeof *k, 0);
  k->pkey = NULL;
  luaL_setmetatable(L, KEY_META);
  return k;
}

static int key_gc(lua_State *L) {
  crypto_key *k = luaL_checkudata(L, 1, KEY_META);
  EVP_PKEY_free(k->pkey);
  k->pkey = NULL;
  return 0;
}

/* NULL if pkey can verify RS256 tokens, else why not (in buf when it has numbers). */
static const char *rsa_unusable(EVP_PKEY *pkey, char *buf, size_t size) {
  if (!EVP_PKEY_is_a(pkey, "RSA")) {
    const char *type = EVP_PKEY_get0_type_name(pkey);
    snprintf(buf, size, "not an RSA key (%s)", type ? type : "unknown type");
    return buf;
  }
  int bits = EVP_PKEY_get_bits(pkey);
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    snprintf(buf, size, "RSA key of %d bits, %d to %d are accepted", bits, RSA_MIN_BITS, RSA_MAX_BITS);
    return buf;
  }
  /* e = 1 would make every padded message its own signature: a broken key, refused. */
  BIGNUM *e = NULL;
  int bad_e = !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) || !BN_is_odd(e) || BN_is_one(e);
  BN_free(e);
  return bad_e ? "RSA public exponent must be odd and greater than 1" : NULL;
}

/* Takes pkey (NULL when `why` says why there is none) into the userdata at index ud and
 * returns it, or frees it and returns nil, reason. */
static int finish_key(lua_State *L, int ud, crypto_key *k, EVP_PKEY *pkey, const char *why) {
  char buf[96];
  if (why == NULL) why = rsa_unusable(pkey, buf, sizeof buf);
  ERR_clear_error();
  if (why) {
    EVP_PKEY_free(pkey);
    return fail(L, why);
  }
  k->pkey = pkey;
  lua_pushvalue(L, ud);
  return 1;
}

/* crypto.public_key_pem(pem) -> key, or nil, reason. The first PEM block must be a
 * "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS#1); a private key or a
 * certificate is refused rather than guessed at. */
static int public_key_pem(lua_State *L) {
  size_t len;
  const char *pem = luaL_checklstring(L, 1, &len);
  lua_settop(L, 1); /* the key userdata goes to index 2 */
  crypto_key *k = new_key(L);
  if (len > INT_MAX) return finish_key(L, 2, k, NULL, "PEM text too long");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long derlen = 0;
  EVP_PKEY *pkey = NULL;
  const char *why = NULL;
  char buf[96];
  if (bio == NULL || !PEM_read_bio(bio, &name, &header, &der, &derlen)) {
    why = "no PEM block found";
  } else {
    const unsigned char *p = der;
    if (strcmp(name, "PUBLIC KEY") == 0)
      pkey = d2i_PUBKEY(NULL, &p, derlen);
    else if (strcmp(name, "RSA PUBLIC KEY") == 0)
      pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, derlen);
    else {
      snprintf(buf, sizeof buf, "PEM block is %.40s, not PUBLIC KEY or RSA PUBLIC KEY", name);
      why = buf;
    }
    if (why == NULL && pkey == NULL) why = "PEM public key could not be decoded";
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  BIO_free(bio);
  return finish_key(L, 2, k, pkey, why);
}

/* crypto.public_key_jwk(n, e) -> key, or nil, reason: the base64url "n" and "e" members
 * of a JWK with kty "RSA". */
static int public_key_jwk(lua_State *L) {
  size_t nlen, elen;
  const char *n64 = luaL_checklstring(L, 1, &nlen);
  const char *e64 = luaL_checklstring(L, 2, &elen);
  lua_settop(L, 2); /* the key userdata goes to index 3 */
  crypto_key *k = new_key(L);
  if (b64url_check(n64, &nlen)) return finish_key(L, 3, k, NULL, "JWK n is not base64url");
  if (b64url_check(e64, &elen)) return finish_key(L, 3, k, NULL, "JWK e is not base64url");
  size_t nbytes = b64url_decoded_len(nlen), ebytes = b64url_decoded_len(elen);
  if (nbytes > JWK_MAX_BYTES || ebytes > JWK_MAX_BYTES) return finish_key(L, 3, k, NULL, "JWK n or e is too long");
  /* Scratch space Lua owns, so nothing leaks if a later allocation raises. */
  unsigned char *raw = lua_newuserdatauv(L, nbytes + ebytes + 1, 0);
  b64url_decode_into(n64, nlen, raw);
  b64url_decode_into(e64, elen, raw + nbytes);

  BIGNUM *n = BN_bin2bn(raw, (int)nbytes, NULL), *e = BN_bin2bn(raw + nbytes, (int)ebytes, NULL);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  EVP_PKEY *pkey = NULL;
  if (n && e && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) && (params = OSSL_PARAM_BLD_to_param(bld)) &&
      EVP_PKEY_fromdata_init(ctx) > 0)
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params); /* leaves pkey NULL on failure */
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return finish_key(L, 3, k, pkey, pkey ? NULL : "JWK n and e do not make an RSA key");
}

/* crypto.verify_rs256(key, data, signature) -> boolean */
static int verify_rs256(lua_State *L) {
  crypto_key *k = luaL_checkudata(L, 1, KEY_META);
  size_t dlen, slen;
  const char *data = luaL_checklstring(L, 2, &dlen);
  const char *sig = luaL_checklstring(L, 3, &slen);
  luaL_argcheck(L, k->pkey != NULL, 1, "the key was freed");
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md == NULL) return luaL_error(L, "out of memory verifying a signature");
  EVP_PKEY_CTX *pctx = NULL;
  /* PKCS#1 v1.5 is the default for RSA keys; set anyway, RS256 must never mean PSS. */
  int ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k->pkey) == 1 &&
           EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
           EVP_DigestVerify(md, (const unsigned char *)sig, slen, (const unsigned char *)data, dlen) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  lua_pushboolean(L, ok);
  return 1;
}

/* crypto.equal(a, b) -> boolean, in time that depends on the lengths only: for secrets
 * such as the internal token, where an early exit would tell how much of a guess was right. */
static int equal(lua_State *L) {
  size_t alen, blen;
  const char *a = luaL_checklstring(L, 1, &alen);
  const char *b = luaL_checklstring(L, 2, &blen);
  lua_pushboolean(L, alen == blen && CRYPTO_memcmp(a, b, alen) == 0);
  return 1;
}

/* crypto.inet_pton(addr) -> 4 bytes (IPv4), 16 bytes (IPv6) or nil. An IPv4-mapped IPv6
 * address comes back as its IPv4 bytes: a dual-stack listener reports IPv4 peers that way,
 * and they must match IPv4 CIDRs. */
static int parse_address(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char v4[4];
  struct in6_addr v6;
  if (strlen(s) != len) /* an embedded NUL would end the address early */
    lua_pushnil(L);
  else if (inet_pton(AF_INET, s, v4) == 1)
    lua_pushlstring(L, (const char *)v4, 4);
  else if (inet_pton(AF_INET6, s, &v6) != 1)
    lua_pushnil(L);
  else if (IN6_IS_ADDR_V4MAPPED(&v6))
    lua_pushlstring(L, (const char *)v6.s6_addr + 12, 4);
  else
    lua_pushlstring(L, (const char *)v6.s6_addr, 16);
  return 1;
}

void chat_lua_api_crypto_inject(lua_State *L, struct chat_runtime *rt) {
  (void)rt; /* nothing here depends on the runtime */
  static const luaL_Reg fns[] = {{"hmac_sha256", hmac_sha256},
                                 {"b64url_decode", b64url_decode},
                                 {"public_key_pem", public_key_pem},
                                 {"public_key_jwk", public_key_jwk},
                                 {"verify_rs256", verify_rs256},
                                 {"equal", equal},
                                 {"inet_pton", parse_address},
                                 {NULL, NULL}};
  if (luaL_newmetatable(L, KEY_META)) {
    lua_pushcfunction(L, key_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, fns, 0);
}
