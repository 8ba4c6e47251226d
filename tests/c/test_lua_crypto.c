/* chat.crypto (core/lua_api_crypto.c) through Lua, the way lua/chat/auth/jwt.lua calls it: known
 * HMAC and base64url vectors, RS256 with keys generated here (PEM, PKCS#1 PEM and JWK forms
 * of one key verifying one signature), the keys that must be refused, and inet_pton. */
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lua_api.h"

/* Runs a Lua snippet; a failed assert() in it is one failed check, with Lua's message. */
static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 1;
  fprintf(stderr, "    lua: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

static void set_global(lua_State *L, const char *name, const void *bytes, size_t len) {
  lua_pushlstring(L, bytes, len);
  lua_setglobal(L, name);
}

/* Sets global `name` to a PEM of pkey: SubjectPublicKeyInfo, or PKCS#1 ("RSA PUBLIC KEY")
 * when structure is "type-specific", or the private key when `private` is set. */
static void set_pem(lua_State *L, const char *name, EVP_PKEY *pkey, const char *structure, int private) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (private) {
    CHECK(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1);
  } else if (structure) {
    OSSL_ENCODER_CTX *enc = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM", structure, NULL);
    CHECK(enc != NULL && OSSL_ENCODER_to_bio(enc, bio) == 1);
    OSSL_ENCODER_CTX_free(enc);
  } else {
    CHECK(PEM_write_bio_PUBKEY(bio, pkey) == 1);
  }
  char *text;
  long len = BIO_get_mem_data(bio, &text);
  set_global(L, name, text, (size_t)len);
  BIO_free(bio);
}

static void set_signature(lua_State *L, const char *name, EVP_PKEY *pkey, const char *data) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
  CHECK(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data, strlen(data)) == 1);
  set_global(L, name, sig, siglen);
  EVP_MD_CTX_free(md);
}

/* Sets global `name` to the base64url (no padding) of the key's RSA parameter `param`. */
static void set_jwk_param(lua_State *L, const char *name, EVP_PKEY *pkey, const char *param) {
  BIGNUM *bn = NULL;
  CHECK(EVP_PKEY_get_bn_param(pkey, param, &bn) == 1);
  unsigned char raw[1024], b64[1400];
  int len = BN_bn2bin(bn, raw);
  int n = EVP_EncodeBlock(b64, raw, len);
  while (n > 0 && b64[n - 1] == '=') n--;
  for (int i = 0; i < n; i++) b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
  set_global(L, name, b64, (size_t)n);
  BN_free(bn);
}

static void test_hmac(lua_State *L) {
  CHECK(run(L, "function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end\n"
               "c = native.crypto"));
  /* RFC 4231 test cases 1 and 2 */
  CHECK(run(L, "assert(hex(c.hmac_sha256(string.rep('\\x0b', 20), 'Hi There')) == "
               "'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7')"));
  CHECK(run(L, "assert(hex(c.hmac_sha256('Jefe', 'what do ya want for nothing?')) == "
               "'5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')"));
  CHECK(run(L, "assert(#c.hmac_sha256('', '') == 32)"));
  /* RFC 7515 A.1: the HS256 JWS example, key and signature from their base64url forms. */
  CHECK(run(L, "local key = c.b64url_decode('AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h'\n"
               "  .. 'cgUuTwjAzZr1Z9CAow')\n"
               "local input = 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.'\n"
               "  .. 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ'\n"
               "local want = c.b64url_decode('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')\n"
               "assert(c.equal(c.hmac_sha256(key, input), want))"));
  CHECK(run(L, "assert(not pcall(c.hmac_sha256, 'k'))"));
}

static void test_b64url(lua_State *L) {
  CHECK(run(L, "for enc, dec in pairs({[''] = '', Zg = 'f', Zm8 = 'fo', Zm9v = 'foo', Zm9vYg = 'foob',\n"
               "    Zm9vYmE = 'fooba', Zm9vYmFy = 'foobar', ['Zg=='] = 'f', ['Zm8='] = 'fo', ['-_8'] = '\\xfb\\xff',\n"
               "    AAE = '\\0\\1'}) do\n"
               "  assert(c.b64url_decode(enc) == dec, enc)\n"
               "end"));
  CHECK(run(L, "for _, bad in ipairs({'Zm9v+', 'Zm9v/', 'Zm 9v', 'Zm9v\\n', 'Zm=v', 'Zg===', 'Zm9v\\0', '\\xff'}) do\n"
               "  local v, why = c.b64url_decode(bad)\n"
               "  assert(v == nil and why == 'invalid base64url character', bad)\n"
               "end"));
  CHECK(run(L, "for _, bad in ipairs({'Z', 'Zm9vY', 'Zm9vY=', 'A='}) do\n"
               "  local v, why = c.b64url_decode(bad)\n"
               "  assert(v == nil and why == 'invalid base64url length', bad)\n"
               "end"));
  CHECK(run(L, "for _, bad in ipairs({'=', '==', 'Zg=', 'Zm9v=', 'Zm9v=='}) do\n"
               "  local v, why = c.b64url_decode(bad)\n"
               "  assert(v == nil and why == 'invalid base64url padding', bad)\n"
               "end"));
  CHECK(run(L, "assert(#c.b64url_decode(string.rep('A', 4000000)) == 3000000)"));
}

static void test_rs256(lua_State *L) {
  EVP_PKEY *key = EVP_RSA_gen(2048);
  CHECK(key != NULL);
  const char *data = "header.payload";
  set_global(L, "data", data, strlen(data));
  set_pem(L, "pem", key, NULL, 0);
  set_pem(L, "pem_pkcs1", key, "type-specific", 0);
  set_pem(L, "pem_private", key, NULL, 1);
  set_signature(L, "sig", key, data);
  set_jwk_param(L, "n64", key, OSSL_PKEY_PARAM_RSA_N);
  set_jwk_param(L, "e64", key, OSSL_PKEY_PARAM_RSA_E);

  CHECK(run(L, "key = assert(c.public_key_pem(pem))\n"
               "assert(getmetatable(key).__name == 'chat.crypto.key')\n"
               "assert(c.verify_rs256(key, data, sig) == true)\n"
               "local flipped = sig:sub(1, 10) .. string.char(sig:byte(11) ~ 1) .. sig:sub(12)\n"
               "assert(c.verify_rs256(key, data, flipped) == false)\n"
               "assert(c.verify_rs256(key, 'Header.payload', sig) == false)\n"
               "assert(c.verify_rs256(key, 'header.payloae', sig) == false)\n"
               "assert(c.verify_rs256(key, data, sig:sub(2)) == false)\n"
               "assert(c.verify_rs256(key, data, sig .. 'x') == false)"));
  /* PKCS#1 "RSA PUBLIC KEY", text around the block, and the JWK form: the same key. */
  CHECK(run(L, "assert(pem_pkcs1:find('BEGIN RSA PUBLIC KEY', 1, true))\n"
               "assert(c.verify_rs256(assert(c.public_key_pem(pem_pkcs1)), data, sig))\n"
               "assert(c.verify_rs256(assert(c.public_key_pem('comment\\n' .. pem .. 'trailer')), data, sig))\n"
               "local jwk = assert(c.public_key_jwk(n64, e64))\n"
               "assert(c.verify_rs256(jwk, data, sig) == true)\n"
               "assert(c.verify_rs256(jwk, data .. '.', sig) == false)\n"
               "assert(c.verify_rs256(assert(c.public_key_jwk(n64 .. string.rep('=', -#n64 % 4), e64)), data, sig))"));
  /* Never a crash: empty and huge inputs are just false. */
  CHECK(run(L, "assert(c.verify_rs256(key, '', '') == false)\n"
               "assert(c.verify_rs256(key, data, '') == false)\n"
               "assert(c.verify_rs256(key, string.rep('x', 10000000), string.rep('y', 1000000)) == false)\n"
               "assert(c.verify_rs256(key, data, string.rep('\\0', 256)) == false)\n"
               "assert(c.verify_rs256(key, data, string.rep('\\xff', 256)) == false)"));
  /* A wrong key argument is a programming error: raised. */
  CHECK(run(L, "local ok, err = pcall(c.verify_rs256, 'not a key', data, sig)\n"
               "assert(not ok and err:find('chat.crypto.key', 1, true), err)\n"
               "assert(not pcall(c.verify_rs256, io.stdout, data, sig))\n"
               "assert(not pcall(c.verify_rs256, key, nil, sig))\n"
               "assert(not pcall(c.public_key_pem))\n"
               "assert(not pcall(c.public_key_jwk, n64))"));
  /* A key freed by hand (only possible through its metatable) is refused, not used. */
  CHECK(run(L, "local k = assert(c.public_key_pem(pem))\n"
               "getmetatable(k).__gc(k)\n"
               "assert(not pcall(c.verify_rs256, k, data, sig))"));
  /* Extra arguments do not move the result. */
  CHECK(run(L, "assert(c.verify_rs256(assert(c.public_key_pem(pem, 1, 2)), data, sig))\n"
               "assert(c.verify_rs256(assert(c.public_key_jwk(n64, e64, 3)), data, sig))"));
  EVP_PKEY_free(key);
}

static void test_refused_keys(lua_State *L) {
  EVP_PKEY *small = EVP_RSA_gen(1024);
  EVP_PKEY *ec = EVP_EC_gen("P-256");
  CHECK(small != NULL && ec != NULL);
  set_pem(L, "pem1024", small, NULL, 0);
  set_pem(L, "pem_ec", ec, NULL, 0);
  set_jwk_param(L, "n1024", small, OSSL_PKEY_PARAM_RSA_N);
  CHECK(run(L, "local function refused(want, k, why)\n"
               "  assert(k == nil and type(why) == 'string', tostring(why))\n"
               "  assert(why:find(want, 1, true), why)\n"
               "end\n"
               "refused('RSA key of 1024 bits', c.public_key_pem(pem1024))\n"
               "refused('RSA key of 1024 bits', c.public_key_jwk(n1024, 'AQAB'))\n"
               "refused('not an RSA key (EC)', c.public_key_pem(pem_ec))\n"
               "refused('PEM block is PRIVATE KEY', c.public_key_pem(pem_private))\n"
               "refused('no PEM block found', c.public_key_pem('garbage'))\n"
               "refused('no PEM block found', c.public_key_pem(''))\n"
               "refused('could not be decoded',\n"
               "  c.public_key_pem('-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n'))\n"
               "refused('JWK n is not base64url', c.public_key_jwk(n64 .. '+', e64))\n"
               "refused('JWK e is not base64url', c.public_key_jwk(n64, 'A'))\n"
               "refused('too long', c.public_key_jwk(string.rep('A', 40000), e64))\n"
               "refused('RSA key of 0 bits', c.public_key_jwk('', e64))\n"
               "refused('exponent', c.public_key_jwk(n64, 'AQ'))\n"
               "refused('exponent', c.public_key_jwk(n64, 'Ag'))\n"
               "refused('', c.public_key_jwk(n64, ''))"));
  EVP_PKEY_free(small);
  EVP_PKEY_free(ec);
}

static void test_equal(lua_State *L) {
  CHECK(run(L, "assert(c.equal('secret', 'secret') == true)\n"
               "assert(c.equal('secret', 'secreT') == false)\n"
               "assert(c.equal('secret', 'secret!') == false)\n"
               "assert(c.equal('', '') == true)\n"
               "assert(c.equal('a\\0b', 'a\\0c') == false)\n"
               "assert(not pcall(c.equal, 'a'))"));
}

static void test_inet_pton(lua_State *L) {
  CHECK(run(L, "assert(c.inet_pton('127.0.0.1') == '\\127\\0\\0\\1')\n"
               "assert(c.inet_pton('::1') == string.rep('\\0', 15) .. '\\1')\n"
               "assert(c.inet_pton('::ffff:10.1.2.3') == '\\10\\1\\2\\3')\n"
               "assert(#c.inet_pton('2001:db8::10.1.2.3') == 16)\n"
               "for _, bad in ipairs({'nope', '', '1.2.3', '1.2.3.256', '[::1]', '127.0.0.1\\0x', ' 127.0.0.1',\n"
               "    '::1/128'}) do\n"
               "  assert(c.inet_pton(bad) == nil, bad)\n"
               "end"));
}

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  lua_newtable(L); /* native.crypto, filled as lua_vm.c fills it */
  chat_lua_api_crypto_inject(L, NULL);
  lua_setfield(L, -2, "crypto");
  lua_setglobal(L, "native");

  test_hmac(L);
  test_b64url(L);
  test_rs256(L);
  test_refused_keys(L);
  test_equal(L);
  test_inet_pton(L);

  CHECK(run(L, "collectgarbage() collectgarbage()"));
  CHECK(lua_gettop(L) == 0);
  lua_close(L);
  CHECK_DONE();
}
