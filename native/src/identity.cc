// Part "identity": the memory-hard hash that binds a ZeroTier address to a public key (see
// service/core/identity.ts for the algorithm in words). The JS version is the reference; this one
// exists because identity generation runs it ~15 times per identity.
//
//   memoryHardHash(pub64, out64)   writes the 64-byte digest of the 64-byte public key into out64
//
// Scratch: the 2 MiB table (per thread, reused) and a 64 KiB keystream window on the stack.
#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "registry.h"

namespace {

constexpr size_t kTableBytes = 2097152;          // 2 MiB
constexpr size_t kTableWords = kTableBytes / 8;  // 262144 eight-byte words
constexpr size_t kWindow = 65536;                // keystream generated per libsodium call in the walk

inline uint64_t loadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

void memoryHardHash(const uint8_t pub[64], uint8_t out[64]) {
  static thread_local std::vector<uint8_t> table(kTableBytes);
  uint8_t* m = table.data();
  alignas(8) uint8_t d[64];
  crypto_hash_sha512(d, pub, 64);
  uint8_t key[32];
  uint8_t nonce[8];
  std::memcpy(key, d, 32);
  std::memcpy(nonce, d + 32, 8);

  // Fill: keystream blocks 0..32767, each 64-byte block XORed onto the one before it.
  crypto_stream_salsa20(m, kTableBytes, nonce, key);
  for (size_t i = 64; i < kTableBytes; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, m + i, 8);
    std::memcpy(&b, m + i - 64, 8);
    a ^= b;
    std::memcpy(m + i, &a, 8);
  }

  // Walk: for each word pair, swap a digest word with a table word, then XOR the next keystream
  // block into the digest. The keystream continues from block 32768.
  alignas(8) uint8_t ks[kWindow];
  size_t ksPos = kWindow;
  uint64_t counter = kTableBytes / 64;
  for (size_t i = 0; i < kTableWords; i += 2) {
    const size_t idx1 = static_cast<size_t>(loadBe64(m + 8 * i) % 8);
    const size_t idx2 = static_cast<size_t>(loadBe64(m + 8 * (i + 1)) % kTableWords);
    uint8_t tmp[8];
    std::memcpy(tmp, m + 8 * idx2, 8);
    std::memcpy(m + 8 * idx2, d + 8 * idx1, 8);
    std::memcpy(d + 8 * idx1, tmp, 8);
    if (ksPos == kWindow) {
      std::memset(ks, 0, kWindow);
      crypto_stream_salsa20_xor_ic(ks, ks, kWindow, nonce, counter, key);
      counter += kWindow / 64;
      ksPos = 0;
    }
    for (int j = 0; j < 64; j++) d[j] ^= ks[ksPos + j];
    ksPos += 64;
  }
  std::memcpy(out, d, 64);
  sodium_memzero(key, sizeof key);
}

const uint8_t* bytesArg(const Napi::Value& v, size_t len) {
  if (!v.IsTypedArray()) return nullptr;
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() != len) return nullptr;
  return static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

Napi::Value MemoryHardHash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* pub = info.Length() >= 2 ? bytesArg(info[0], 64) : nullptr;
  const uint8_t* out = info.Length() >= 2 ? bytesArg(info[1], 64) : nullptr;
  if (!pub || !out) {
    Napi::TypeError::New(env, "memoryHardHash(pub: Uint8Array(64), out: Uint8Array(64))").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memoryHardHash(pub, const_cast<uint8_t*>(out));
  return env.Undefined();
}

netcon::Registrar reg("identity", [](Napi::Env env, Napi::Object exports) {
  if (sodium_init() < 0) {
    Napi::Error::New(env, "identity: sodium_init failed").ThrowAsJavaScriptException();
    return;
  }
  exports.Set("memoryHardHash", Napi::Function::New(env, MemoryHardHash, "memoryHardHash"));
});

}  // namespace
