// OpenSSL-backed primitives; the rest of the code never calls OpenSSL directly for these.
#include "common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/clock.hpp"

namespace tollgate {

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("fatal: the OS random number generator failed\n", stderr);
    std::abort();
  }
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> buffer(bytes);
  random_bytes(buffer);
  return to_hex(buffer);
}

std::string time_ordered_id(std::string_view prefix) {
  // An id must be unique, not secret: its random part is taken from a per-thread block
  // filled by the CSPRNG 32 ids at a time, since one RAND_bytes call costs more than the
  // rest of making the id (charges and idempotency keys make one per paid call).
  constexpr std::size_t kRandomBytes = 8, kBlockBytes = 32 * kRandomBytes;
  thread_local std::array<std::uint8_t, kBlockBytes> block;
  thread_local std::size_t used = kBlockBytes;
  if (used == kBlockBytes) {
    random_bytes(block);
    used = 0;
  }
  std::span<const std::uint8_t> random(block.data() + used, kRandomBytes);
  used += kRandomBytes;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id;
  id.reserve(prefix.size() + 14 + 2 * kRandomBytes);
  id += prefix;
  auto micros = static_cast<std::uint64_t>(now_micros());
  for (int shift = 52; shift >= 0; shift -= 4) id += kDigits[(micros >> shift) & 0xf];  // 14 hex digits
  for (std::uint8_t b : random) {
    id += kDigits[b >> 4];
    id += kDigits[b & 0xf];
  }
  return id;
}

Sha256 sha256(std::string_view data) {
  // OpenSSL 3's one-shot SHA256() looks the algorithm up by name on every call, which costs
  // twice the hashing itself on a key verification's hot path: fetch it once, and keep one
  // context per thread.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  Sha256 digest;
  unsigned int length = 0;
  if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1 || length != digest.size()) {
    std::fputs("fatal: OpenSSL SHA-256 failed\n", stderr);
    std::abort();
  }
  return digest;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tollgate
