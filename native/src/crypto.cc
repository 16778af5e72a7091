// Part "crypto": ZeroTier VL1 packet armor/dearmor in place, one call per packet or per batch.
//
// Suites (flags byte bits 3-5):
//   0  Poly1305 authentication only (HELLO)            per-packet mangled Salsa20/12 key, no encryption
//   1  Salsa20/12 + Poly1305                            per-packet mangled key, payload encrypted
//   3  AES-GMAC-SIV                                      K0 (GMAC) and K1 (ECB tag block + CTR) from key48
// Everything per peer (mangling base key, the four EVP contexts with their key schedules) lives in a
// PeerKey object made once per peer; armoring and dearmoring allocate nothing.
//
// Return codes of dearmor (also written per packet by dearmorBatch):
//   >= 0  the suite that authenticated the packet (payload is now plaintext)
//   -1    too short (< 28 bytes) or too long      -2  MAC mismatch (buffer left as received)
//   -3    suite not handled here (2 = trusted path, 4..7 unused)
#include <lz4.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <unordered_set>

#include "registry.h"

namespace {

constexpr size_t kHeader = 27;   // bytes before the verb byte (the start of the armored region)
constexpr size_t kMinPacket = 28;
constexpr size_t kMaxPacket = 65535;  // length must fit the 16-bit field mixed into the Salsa key

constexpr int kShort = -1;
constexpr int kBadMac = -2;
constexpr int kBadSuite = -3;

// ---------------------------------------------------------------------------------------------
// Salsa20 reduced to 12 rounds, with an explicit starting block counter (libsodium's salsa2012
// has no counter argument, and armor needs keystream block 0 for Poly1305 and blocks 2.. for data).

inline uint32_t rotl32(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }
inline uint32_t load32le(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void store32le(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}

struct SalsaState {
  uint32_t in[16];
};

void salsaSetup(SalsaState& s, const uint8_t key[32], const uint8_t nonce[8], uint64_t counter) {
  s.in[0] = 0x61707865;  // "expa"
  s.in[5] = 0x3320646e;  // "nd 3"
  s.in[10] = 0x79622d32;  // "2-by"
  s.in[15] = 0x6b206574;  // "te k"
  for (int i = 0; i < 4; i++) {
    s.in[1 + i] = load32le(key + 4 * i);
    s.in[11 + i] = load32le(key + 16 + 4 * i);
  }
  s.in[6] = load32le(nonce);
  s.in[7] = load32le(nonce + 4);
  s.in[8] = uint32_t(counter);
  s.in[9] = uint32_t(counter >> 32);
}

#define QR(a, b, c, d)            \
  b ^= rotl32(a + d, 7);          \
  c ^= rotl32(b + a, 9);          \
  d ^= rotl32(c + b, 13);         \
  a ^= rotl32(d + c, 18);

// One 64-byte keystream block as 16 words; advances the counter.
inline void salsaBlock(SalsaState& s, uint32_t out[16]) {
  uint32_t x0 = s.in[0], x1 = s.in[1], x2 = s.in[2], x3 = s.in[3], x4 = s.in[4], x5 = s.in[5], x6 = s.in[6],
           x7 = s.in[7], x8 = s.in[8], x9 = s.in[9], x10 = s.in[10], x11 = s.in[11], x12 = s.in[12],
           x13 = s.in[13], x14 = s.in[14], x15 = s.in[15];
  for (int r = 0; r < 6; r++) {
    QR(x0, x4, x8, x12)
    QR(x5, x9, x13, x1)
    QR(x10, x14, x2, x6)
    QR(x15, x3, x7, x11)
    QR(x0, x1, x2, x3)
    QR(x5, x6, x7, x4)
    QR(x10, x11, x8, x9)
    QR(x15, x12, x13, x14)
  }
  out[0] = x0 + s.in[0];
  out[1] = x1 + s.in[1];
  out[2] = x2 + s.in[2];
  out[3] = x3 + s.in[3];
  out[4] = x4 + s.in[4];
  out[5] = x5 + s.in[5];
  out[6] = x6 + s.in[6];
  out[7] = x7 + s.in[7];
  out[8] = x8 + s.in[8];
  out[9] = x9 + s.in[9];
  out[10] = x10 + s.in[10];
  out[11] = x11 + s.in[11];
  out[12] = x12 + s.in[12];
  out[13] = x13 + s.in[13];
  out[14] = x14 + s.in[14];
  out[15] = x15 + s.in[15];
  if (++s.in[8] == 0) ++s.in[9];
}
#undef QR

// XOR data with the keystream from the state's current block on.
#if defined(__x86_64__) && defined(__GNUC__)
// Eight blocks at once with AVX2 (GCC vector extensions; one 32-bit lane per block). Used for runs of at
// least 512 bytes when the CPU has AVX2; the scalar code above does the rest and is the reference.
typedef uint32_t v8u __attribute__((vector_size(32)));

__attribute__((target("avx2"))) static inline v8u rotl8(v8u v, int c) { return (v << c) | (v >> (32 - c)); }

#define QR8(a, b, c, d)          \
  b ^= rotl8(a + d, 7);          \
  c ^= rotl8(b + a, 9);          \
  d ^= rotl8(c + b, 13);         \
  a ^= rotl8(d + c, 18);

__attribute__((target("avx2"))) size_t salsaXor8(SalsaState& s, uint8_t* data, size_t len) {
  size_t done = 0;
  alignas(32) uint32_t ks[16][8];
  while (len - done >= 512) {
    v8u x[16], in[16];
    for (int i = 0; i < 16; i++) {
      const uint32_t w = s.in[i];
      in[i] = v8u{w, w, w, w, w, w, w, w};
    }
    const uint32_t lo = s.in[8], hi = s.in[9];
    for (int j = 0; j < 8; j++) {
      const uint32_t l = lo + uint32_t(j);
      in[8][j] = l;
      in[9][j] = hi + (l < lo ? 1 : 0);
    }
    for (int i = 0; i < 16; i++) x[i] = in[i];
    for (int r = 0; r < 6; r++) {
      QR8(x[0], x[4], x[8], x[12])
      QR8(x[5], x[9], x[13], x[1])
      QR8(x[10], x[14], x[2], x[6])
      QR8(x[15], x[3], x[7], x[11])
      QR8(x[0], x[1], x[2], x[3])
      QR8(x[5], x[6], x[7], x[4])
      QR8(x[10], x[11], x[8], x[9])
      QR8(x[15], x[12], x[13], x[14])
    }
    for (int i = 0; i < 16; i++) {
      v8u o = x[i] + in[i];
      std::memcpy(ks[i], &o, 32);
    }
    uint8_t* d = data + done;
    for (int j = 0; j < 8; j++) {
      for (int i = 0; i < 16; i++) {
        uint32_t w;
        std::memcpy(&w, d + 64 * j + 4 * i, 4);
        w ^= ks[i][j];
        std::memcpy(d + 64 * j + 4 * i, &w, 4);
      }
    }
    const uint32_t next = lo + 8;
    s.in[8] = next;
    if (next < lo) ++s.in[9];
    done += 512;
  }
  return done;
}
#undef QR8

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

void salsaXor(SalsaState& s, uint8_t* data, size_t len) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2 && len >= 512) {
    size_t n = salsaXor8(s, data, len);
    data += n;
    len -= n;
  }
#endif
  uint32_t ks[16];
  while (len >= 64) {
    salsaBlock(s, ks);
    for (int i = 0; i < 16; i++) {
      uint32_t w;
      std::memcpy(&w, data + 4 * i, 4);  // little-endian host (x86-64, arm64)
      w ^= ks[i];
      std::memcpy(data + 4 * i, &w, 4);
    }
    data += 64;
    len -= 64;
  }
  if (len > 0) {
    uint8_t tail[64];
    salsaBlock(s, ks);
    for (int i = 0; i < 16; i++) store32le(tail + 4 * i, ks[i]);
    for (size_t i = 0; i < len; i++) data[i] ^= tail[i];
  }
}

// ---------------------------------------------------------------------------------------------
// Per-peer key material.

class PeerKey {
 public:
  // `ok()` is false if OpenSSL could not set up a context (the caller throws).
  explicit PeerKey(const uint8_t key48[48]) {
    std::memcpy(key48_, key48, 48);
    deriveAes();
    gcm_ = EVP_CIPHER_CTX_new();
    ecbEnc_ = EVP_CIPHER_CTX_new();
    ecbDec_ = EVP_CIPHER_CTX_new();
    ctr_ = EVP_CIPHER_CTX_new();
    bool ok = gcm_ && ecbEnc_ && ecbDec_ && ctr_;
    ok = ok && EVP_EncryptInit_ex(gcm_, EVP_aes_256_gcm(), nullptr, k0_, nullptr) == 1;
    ok = ok && EVP_EncryptInit_ex(ecbEnc_, EVP_aes_256_ecb(), nullptr, k1_, nullptr) == 1;
    ok = ok && EVP_DecryptInit_ex(ecbDec_, EVP_aes_256_ecb(), nullptr, k1_, nullptr) == 1;
    ok = ok && EVP_EncryptInit_ex(ctr_, EVP_aes_256_ctr(), nullptr, k1_, nullptr) == 1;
    if (ok) {
      EVP_CIPHER_CTX_set_padding(ecbEnc_, 0);
      EVP_CIPHER_CTX_set_padding(ecbDec_, 0);
    }
    ok_ = ok;
  }

  PeerKey(const PeerKey&) = delete;
  PeerKey& operator=(const PeerKey&) = delete;

  bool ok() const { return ok_; }

  void aesKeys(uint8_t out[64]) const {
    std::memcpy(out, k0_, 32);
    std::memcpy(out + 32, k1_, 32);
  }

  ~PeerKey() {
    EVP_CIPHER_CTX_free(gcm_);
    EVP_CIPHER_CTX_free(ecbEnc_);
    EVP_CIPHER_CTX_free(ecbDec_);
    EVP_CIPHER_CTX_free(ctr_);
    sodium_memzero(key48_, sizeof key48_);
    sodium_memzero(k0_, sizeof k0_);
    sodium_memzero(k1_, sizeof k1_);
  }

  // Suites 0 and 1: the per-packet Salsa20/12 key mixes in IV, addresses, flags (hops masked) and length.
  void mangledKey(const uint8_t* p, size_t len, uint8_t mk[32]) const {
    for (int i = 0; i < 18; i++) mk[i] = key48_[i] ^ p[i];
    mk[18] = key48_[18] ^ (p[18] & 0xf8);
    mk[19] = key48_[19] ^ uint8_t(len & 0xff);
    mk[20] = key48_[20] ^ uint8_t((len >> 8) & 0xff);
    std::memcpy(mk + 21, key48_ + 21, 11);
  }

  // Returns 0 or a negative code. `suite` 0, 1 or 3.
  int armor(uint8_t* p, size_t len, int suite) {
    if (len < kMinPacket || len > kMaxPacket) return kShort;
    if (suite == 0 || suite == 1) {
      p[18] = uint8_t((p[18] & 0x47) | (suite == 1 ? 0x88 : 0x00));
      uint8_t mk[32];
      mangledKey(p, len, mk);
      SalsaState s;
      salsaSetup(s, mk, p, 0);
      uint8_t polyKey[64];
      std::memset(polyKey, 0, 64);
      salsaXor(s, polyKey, 64);  // blocks 0 (Poly1305 key, first 32 bytes) and 1 (unused)
      if (suite == 1) salsaXor(s, p + kHeader, len - kHeader);
      uint8_t tag[16];
      crypto_onetimeauth(tag, p + kHeader, len - kHeader, polyKey);
      std::memcpy(p + 19, tag, 8);
      sodium_memzero(mk, 32);
      return 0;
    }
    if (suite == 3) {
      p[18] = uint8_t((p[18] & 0x47) | 0x18);
      uint8_t block[16];
      std::memcpy(block, p, 8);  // IV
      if (!gmacFold(p, len, p, block + 8)) return kBadSuite;
      uint8_t t[16];
      int outl = 0;
      if (EVP_EncryptUpdate(ecbEnc_, t, &outl, block, 16) != 1 || outl != 16) return kBadSuite;
      std::memcpy(p, t, 8);
      std::memcpy(p + 19, t + 8, 8);
      if (!ctrXor(t, p + kHeader, len - kHeader)) return kBadSuite;
      return 0;
    }
    return kBadSuite;
  }

  int dearmor(uint8_t* p, size_t len) {
    if (len < kMinPacket || len > kMaxPacket) return kShort;
    const int suite = (p[18] >> 3) & 7;
    if (suite == 0 || suite == 1) {
      uint8_t mk[32];
      mangledKey(p, len, mk);
      SalsaState s;
      salsaSetup(s, mk, p, 0);
      uint8_t polyKey[64];
      std::memset(polyKey, 0, 64);
      salsaXor(s, polyKey, 64);
      uint8_t tag[16];
      crypto_onetimeauth(tag, p + kHeader, len - kHeader, polyKey);
      sodium_memzero(mk, 32);
      if (CRYPTO_memcmp(tag, p + 19, 8) != 0) return kBadMac;
      if (suite == 1) salsaXor(s, p + kHeader, len - kHeader);
      return suite;
    }
    if (suite == 3) {
      uint8_t t[16];
      std::memcpy(t, p, 8);
      std::memcpy(t + 8, p + 19, 8);
      if (!ctrXor(t, p + kHeader, len - kHeader)) return kBadSuite;
      uint8_t d[16];
      uint8_t fold[8];
      if (!ecbDecrypt(t, d) || !gmacFold(p, len, d, fold)) {
        ctrXor(t, p + kHeader, len - kHeader);
        return kBadSuite;
      }
      if (CRYPTO_memcmp(fold, d + 8, 8) != 0) {
        ctrXor(t, p + kHeader, len - kHeader);  // restore the ciphertext: a rejected packet is left as received
        return kBadMac;
      }
      return 3;
    }
    return kBadSuite;
  }

  // Salsa20/12 with the unmangled key48[0:32], nonce = IV with its last byte & 0xf8, from keystream byte 0.
  void cryptField(const uint8_t* iv, uint8_t* data, size_t len) const {
    uint8_t nonce[8];
    std::memcpy(nonce, iv, 8);
    nonce[7] &= 0xf8;
    SalsaState s;
    salsaSetup(s, key48_, nonce, 0);
    salsaXor(s, data, len);
  }

 private:
  bool ecbDecrypt(const uint8_t in[16], uint8_t out[16]) {
    int outl = 0;
    return EVP_DecryptUpdate(ecbDec_, out, &outl, in, 16) == 1 && outl == 16;
  }

  // GMAC (GCM tag with empty plaintext) under K0 over AAD = bytes 8..17 || flags&0xf8 || 5 zeros || plaintext,
  // nonce = iv || 00000000; writes tag[0:8] ^ tag[8:16] to fold.
  bool gmacFold(const uint8_t* p, size_t len, const uint8_t iv[8], uint8_t fold[8]) {
    uint8_t nonce[12] = {0};
    std::memcpy(nonce, iv, 8);
    uint8_t a[16] = {0};
    std::memcpy(a, p + 8, 10);
    a[10] = p[18] & 0xf8;
    int outl = 0;
    if (EVP_EncryptInit_ex(gcm_, nullptr, nullptr, nullptr, nonce) != 1) return false;
    if (EVP_EncryptUpdate(gcm_, nullptr, &outl, a, 16) != 1) return false;
    if (EVP_EncryptUpdate(gcm_, nullptr, &outl, p + kHeader, int(len - kHeader)) != 1) return false;
    uint8_t dummy[16];
    if (EVP_EncryptFinal_ex(gcm_, dummy, &outl) != 1) return false;
    uint8_t tag[16];
    if (EVP_CIPHER_CTX_ctrl(gcm_, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) return false;
    for (int i = 0; i < 8; i++) fold[i] = tag[i] ^ tag[8 + i];
    return true;
  }

  // AES-256-CTR under K1 with the tag (byte 12 & 0x7f) as the initial counter block.
  bool ctrXor(const uint8_t t[16], uint8_t* data, size_t len) {
    uint8_t c[16];
    std::memcpy(c, t, 16);
    c[12] &= 0x7f;
    int outl = 0;
    if (EVP_EncryptInit_ex(ctr_, nullptr, nullptr, nullptr, c) != 1) return false;
    return EVP_EncryptUpdate(ctr_, data, &outl, data, int(len)) == 1;
  }

  // KBKDF (counter mode, HMAC-SHA-384): message = u32 0 || "ZT" || label || 0 || 0 || u32 384.
  void deriveAes() {
    uint8_t msg[13] = {0, 0, 0, 0, 'Z', 'T', '0', 0, 0, 0, 0, 1, 0x80};
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned int outLen = 0;
    HMAC(EVP_sha384(), key48_, 48, msg, sizeof msg, out, &outLen);
    std::memcpy(k0_, out, 32);
    msg[6] = '1';
    HMAC(EVP_sha384(), key48_, 48, msg, sizeof msg, out, &outLen);
    std::memcpy(k1_, out, 32);
    sodium_memzero(out, sizeof out);
  }

  bool ok_ = false;
  uint8_t key48_[48];
  uint8_t k0_[32];
  uint8_t k1_[32];
  EVP_CIPHER_CTX* gcm_ = nullptr;
  EVP_CIPHER_CTX* ecbEnc_ = nullptr;
  EVP_CIPHER_CTX* ecbDec_ = nullptr;
  EVP_CIPHER_CTX* ctr_ = nullptr;
};


// ---------------------------------------------------------------------------------------------
// JS glue. Argument errors are programming errors and throw; wire data never makes these throw.

// A byte range [off, off+len) inside a Uint8Array argument; nullptr when out of bounds.
uint8_t* rangeArg(Napi::Value v, size_t off, size_t len) {
  if (!v.IsTypedArray()) return nullptr;
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return nullptr;
  auto a = v.As<Napi::Uint8Array>();
  if (off > a.ByteLength() || len > a.ByteLength() - off) return nullptr;
  return a.Data() + off;
}

size_t sizeArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) return SIZE_MAX;
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0) return SIZE_MAX;
  return size_t(d);
}

Napi::Value throwType(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// A Uint8Array argument of exactly n bytes; nullptr otherwise.
const uint8_t* rangeArgFixed(Napi::Value v, size_t n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return nullptr;
  auto a = v.As<Napi::Uint8Array>();
  return a.ByteLength() == n ? a.Data() : nullptr;
}

// Keys are handed to JavaScript as externals. An external could come from another part of the addon, so a
// pointer is trusted only if it is in this thread's set of live keys (an env lives on one thread).
thread_local std::unordered_set<const PeerKey*> liveKeys;

PeerKey* rawKey(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return nullptr;
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok) return nullptr;
  auto* key = static_cast<PeerKey*>(p);
  return liveKeys.count(key) != 0 ? key : nullptr;
}

PeerKey* keyArg(Napi::Env env, Napi::Value v) { return rawKey(env, v); }

// What a key holds outside the JS heap (the object plus four OpenSSL contexts with key schedules), reported
// to V8 so that dropping many peers makes the collector run.
constexpr int64_t kKeyExternalBytes = int64_t(sizeof(PeerKey)) + 4 * 1024;

void finalizeKey(napi_env env, void* data, void*) {
  auto* key = static_cast<PeerKey*>(data);
  liveKeys.erase(key);
  delete key;
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -kKeyExternalBytes, &ignored);
}

// createPeerKey(key48) -> opaque key handle
Napi::Value CreatePeerKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* k = info.Length() >= 1 ? rangeArgFixed(info[0], 48) : nullptr;
  if (!k) return throwType(env, "createPeerKey(key48): a 48-byte Uint8Array is required");
  auto* key = new PeerKey(k);
  if (!key->ok()) {
    delete key;
    Napi::Error::New(env, "createPeerKey: OpenSSL context setup failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_value ext = nullptr;
  if (napi_create_external(env, key, finalizeKey, nullptr, &ext) != napi_ok) {
    delete key;
    return throwType(env, "createPeerKey: cannot create the handle");
  }
  liveKeys.insert(key);
  int64_t ignored = 0;
  napi_adjust_external_memory(env, kKeyExternalBytes, &ignored);
  return Napi::Value(env, ext);
}

// aesKeys(key) -> K0 || K1 (64 bytes)
Napi::Value AesKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PeerKey* key = info.Length() >= 1 ? rawKey(env, info[0]) : nullptr;
  if (!key) return throwType(env, "aesKeys(key): not a key");
  auto out = Napi::Buffer<uint8_t>::New(env, 64);
  key->aesKeys(out.Data());
  return out;
}


// The per-packet calls are the hot path: plain N-API here (one call per argument, no wrapper objects).
uint8_t* rawRange(napi_env env, napi_value v, uint32_t off, uint32_t len) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok) return nullptr;
  if (type != napi_uint8_array || off > length || len > length - off || (data == nullptr && length > 0)) return nullptr;
  return static_cast<uint8_t*>(data) + off;
}

bool rawU32(napi_env env, napi_value v, uint32_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 4294967295.0) return false;
  *out = uint32_t(d);
  return true;
}

napi_value rawNumber(napi_env env, int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

napi_value rawThrow(napi_env env, const char* msg) {
  napi_throw_type_error(env, nullptr, msg);
  return nullptr;
}

// armor(key, buf, off, len, suite) -> 0 | negative code
napi_value ArmorFast(napi_env env, napi_callback_info cb) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr) != napi_ok || argc < 5)
    return rawThrow(env, "armor(key, buf, off, len, suite): bad arguments");
  uint32_t off = 0, len = 0, suite = 0;
  PeerKey* key = rawKey(env, argv[0]);
  if (!key || !rawU32(env, argv[2], &off) || !rawU32(env, argv[3], &len) || !rawU32(env, argv[4], &suite) || suite > 7)
    return rawThrow(env, "armor(key, buf, off, len, suite): bad arguments");
  uint8_t* p = rawRange(env, argv[1], off, len);
  if (!p) return rawThrow(env, "armor(key, buf, off, len, suite): bad range");
  return rawNumber(env, key->armor(p, len, int(suite)));
}

// dearmor(key, buf, off, len) -> suite | negative code
napi_value DearmorFast(napi_env env, napi_callback_info cb) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4)
    return rawThrow(env, "dearmor(key, buf, off, len): bad arguments");
  uint32_t off = 0, len = 0;
  PeerKey* key = rawKey(env, argv[0]);
  if (!key || !rawU32(env, argv[2], &off) || !rawU32(env, argv[3], &len))
    return rawThrow(env, "dearmor(key, buf, off, len): bad arguments");
  uint8_t* p = rawRange(env, argv[1], off, len);
  if (!p) return rawThrow(env, "dearmor(key, buf, off, len): bad range");
  return rawNumber(env, key->dearmor(p, len));
}

Napi::Value rawFunction(Napi::Env env, const char* name, napi_callback fn) {
  napi_value f = nullptr;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
  return Napi::Value(env, f);
}

struct Batch {
  PeerKey* single = nullptr;
  Napi::Array keys;
  uint8_t* base = nullptr;
  size_t baseLen = 0;
  const uint32_t* offs = nullptr;
  const uint32_t* lens = nullptr;
  size_t count = 0;
};

// Common argument parsing for the batch calls: (keyOrKeys, buf, offs: Uint32Array, lens: Uint32Array, ..., count).
bool batchArgs(const Napi::CallbackInfo& info, size_t countIndex, Batch& b) {
  Napi::Env env = info.Env();
  if (info.Length() <= countIndex) return false;
  b.count = sizeArg(info, countIndex);
  if (b.count == SIZE_MAX) return false;
  if (info[0].IsArray()) {
    b.keys = info[0].As<Napi::Array>();
    if (b.keys.Length() < b.count) return false;
  } else {
    b.single = keyArg(env, info[0]);
    if (!b.single) return false;
  }
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  auto buf = info[1].As<Napi::Uint8Array>();
  b.base = buf.Data();
  b.baseLen = buf.ByteLength();
  for (int i = 2; i <= 3; i++) {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) return false;
    auto a = info[i].As<Napi::Uint32Array>();
    if (a.ElementLength() < b.count) return false;
    (i == 2 ? b.offs : b.lens) = a.Data();
  }
  return true;
}

PeerKey* batchKey(Napi::Env env, Batch& b, size_t i) {
  if (b.single) return b.single;
  return keyArg(env, b.keys.Get(uint32_t(i)));
}

// armorBatch(keyOrKeys, buf, offs, lens, suite: number | Uint8Array, count) -> number of packets not armored
Napi::Value ArmorBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Batch b;
  if (!batchArgs(info, 5, b)) return throwType(env, "armorBatch(keys, buf, offs, lens, suite, count): bad arguments");
  const uint8_t* suites = nullptr;
  int suite = 0;
  if (info[4].IsNumber()) {
    suite = info[4].As<Napi::Number>().Int32Value();
  } else if (info[4].IsTypedArray() && info[4].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array &&
             info[4].As<Napi::Uint8Array>().ElementLength() >= b.count) {
    suites = info[4].As<Napi::Uint8Array>().Data();
  } else {
    return throwType(env, "armorBatch: suite must be a number or a Uint8Array");
  }
  uint32_t failed = 0;
  for (size_t i = 0; i < b.count; i++) {
    PeerKey* key = batchKey(env, b, i);
    size_t off = b.offs[i], len = b.lens[i];
    if (!key || off > b.baseLen || len > b.baseLen - off || key->armor(b.base + off, len, suites ? suites[i] : suite) != 0)
      failed++;
  }
  return Napi::Number::New(env, failed);
}

// dearmorBatch(keyOrKeys, buf, offs, lens, results: Int32Array, count) -> number authenticated
Napi::Value DearmorBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Batch b;
  if (!batchArgs(info, 5, b) || !info[4].IsTypedArray() ||
      info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[4].As<Napi::Int32Array>().ElementLength() < b.count)
    return throwType(env, "dearmorBatch(keys, buf, offs, lens, results, count): bad arguments");
  int32_t* results = info[4].As<Napi::Int32Array>().Data();
  uint32_t ok = 0;
  for (size_t i = 0; i < b.count; i++) {
    PeerKey* key = batchKey(env, b, i);
    size_t off = b.offs[i], len = b.lens[i];
    int r;
    if (!key)
      r = kBadSuite;
    else if (off > b.baseLen || len > b.baseLen - off)
      r = kShort;
    else
      r = key->dearmor(b.base + off, len);
    results[i] = r;
    if (r >= 0) ok++;
  }
  return Napi::Number::New(env, ok);
}

// cryptField(key, buf, packetOff, start, len): the HELLO tail cipher (its own inverse).
Napi::Value CryptField(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PeerKey* key = info.Length() >= 5 ? keyArg(env, info[0]) : nullptr;
  size_t pktOff = sizeArg(info, 2), start = sizeArg(info, 3), len = sizeArg(info, 4);
  uint8_t* iv = key ? rangeArg(info[1], pktOff, 8) : nullptr;
  uint8_t* data = key ? rangeArg(info[1], start, len) : nullptr;
  if (!iv || !data) return throwType(env, "cryptField(key, buf, packetOff, start, len): bad arguments");
  key->cryptField(iv, data, len);
  return env.Undefined();
}

// lz4Compress(src, srcOff, srcLen, dst, dstOff, dstCap) -> compressed length, 0 when it does not fit
Napi::Value Lz4Compress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t so = sizeArg(info, 1), sl = sizeArg(info, 2), dOff = sizeArg(info, 4), dc = sizeArg(info, 5);
  const uint8_t* src = info.Length() >= 6 ? rangeArg(info[0], so, sl) : nullptr;
  uint8_t* dst = info.Length() >= 6 ? rangeArg(info[3], dOff, dc) : nullptr;
  if (!src || !dst || sl > LZ4_MAX_INPUT_SIZE) return throwType(env, "lz4Compress: bad arguments");
  int n = LZ4_compress_default(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst), int(sl),
                               int(dc > 0x7fffffff ? 0x7fffffff : dc));
  return Napi::Number::New(env, n);
}

// lz4Decompress(src, srcOff, srcLen, dst, dstOff, dstCap) -> decompressed length, -1 on a malformed block or overflow
Napi::Value Lz4Decompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t so = sizeArg(info, 1), sl = sizeArg(info, 2), dOff = sizeArg(info, 4), dc = sizeArg(info, 5);
  const uint8_t* src = info.Length() >= 6 ? rangeArg(info[0], so, sl) : nullptr;
  uint8_t* dst = info.Length() >= 6 ? rangeArg(info[3], dOff, dc) : nullptr;
  if (!src || !dst || sl > 0x7fffffff) return throwType(env, "lz4Decompress: bad arguments");
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst), int(sl),
                              int(dc > 0x7fffffff ? 0x7fffffff : dc));
  return Napi::Number::New(env, n < 0 ? -1 : n);
}

// salsa2012Xor(key32, nonce8, buf, counter): our Salsa20/12 from block `counter`, in place.
Napi::Value Salsa2012Xor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) return throwType(env, "salsa2012Xor(key, nonce, buf, counter)");
  const uint8_t* k = rangeArg(info[0], 0, 32);
  const uint8_t* n = rangeArg(info[1], 0, 8);
  const double c = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : -1;
  if (!k || !n || !info[2].IsTypedArray() || !(c >= 0) || c > 9007199254740991.0)
    return throwType(env, "salsa2012Xor: bad arguments");
  auto buf = info[2].As<Napi::Uint8Array>();
  SalsaState s;
  salsaSetup(s, k, n, uint64_t(c));
  salsaXor(s, buf.Data(), buf.ByteLength());
  return env.Undefined();
}

// salsa2012XorSodium(key32, nonce8, buf): libsodium's Salsa20/12 from block 0 (a reference for tests).
Napi::Value Salsa2012XorSodium(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) return throwType(env, "salsa2012XorSodium(key, nonce, buf)");
  const uint8_t* k = rangeArg(info[0], 0, 32);
  const uint8_t* n = rangeArg(info[1], 0, 8);
  if (!k || !n || !info[2].IsTypedArray()) return throwType(env, "salsa2012XorSodium: bad arguments");
  auto buf = info[2].As<Napi::Uint8Array>();
  crypto_stream_salsa2012_xor(buf.Data(), buf.Data(), buf.ByteLength(), n, k);
  return env.Undefined();
}

// poly1305(key32, msg) -> 16-byte tag
Napi::Value Poly1305(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) return throwType(env, "poly1305(key, msg)");
  const uint8_t* k = rangeArg(info[0], 0, 32);
  if (!k || !info[1].IsTypedArray()) return throwType(env, "poly1305: bad arguments");
  auto msg = info[1].As<Napi::Uint8Array>();
  auto out = Napi::Buffer<uint8_t>::New(env, 16);
  crypto_onetimeauth(out.Data(), msg.Data(), msg.ByteLength(), k);
  return out;
}

netcon::Registrar reg("crypto", [](Napi::Env env, Napi::Object exports) {
  if (sodium_init() < 0) {
    Napi::Error::New(env, "crypto: sodium_init failed").ThrowAsJavaScriptException();
    return;
  }
  exports.Set("createPeerKey", Napi::Function::New(env, CreatePeerKey, "createPeerKey"));
  exports.Set("aesKeys", Napi::Function::New(env, AesKeys, "aesKeys"));
  exports.Set("armor", rawFunction(env, "armor", ArmorFast));
  exports.Set("dearmor", rawFunction(env, "dearmor", DearmorFast));
  exports.Set("armorBatch", Napi::Function::New(env, ArmorBatch, "armorBatch"));
  exports.Set("dearmorBatch", Napi::Function::New(env, DearmorBatch, "dearmorBatch"));
  exports.Set("cryptField", Napi::Function::New(env, CryptField, "cryptField"));
  exports.Set("lz4Compress", Napi::Function::New(env, Lz4Compress, "lz4Compress"));
  exports.Set("lz4Decompress", Napi::Function::New(env, Lz4Decompress, "lz4Decompress"));
  exports.Set("salsa2012Xor", Napi::Function::New(env, Salsa2012Xor, "salsa2012Xor"));
  exports.Set("salsa2012XorSodium", Napi::Function::New(env, Salsa2012XorSodium, "salsa2012XorSodium"));
  exports.Set("poly1305", Napi::Function::New(env, Poly1305, "poly1305"));
});

}  // namespace
