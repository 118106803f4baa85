#include "modules/kubeadm_join/ca_hash.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>

namespace pvek8s::kubeadm {
namespace {

constexpr std::array<uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void Compress(std::array<uint32_t, 8>& h, const unsigned char* block) {
  std::array<uint32_t, 64> w{};
  for (int i = 0; i < 16; ++i) {
    w[i] = (static_cast<uint32_t>(block[4 * i]) << 24) |
           (static_cast<uint32_t>(block[4 * i + 1]) << 16) |
           (static_cast<uint32_t>(block[4 * i + 2]) << 8) | static_cast<uint32_t>(block[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t t1 = k + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                  kRoundConstants[i] + w[i];
    uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

std::optional<std::string> Base64DecodeStrict(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// One DER element at the start of `der`: its tag, and the lengths of the
// whole element and of its header.
struct Element {
  unsigned char tag = 0;
  size_t header = 0;
  size_t total = 0;
};

std::optional<Element> ReadElement(std::string_view der) {
  if (der.size() < 2) return std::nullopt;
  Element e;
  e.tag = static_cast<unsigned char>(der[0]);
  unsigned char first = static_cast<unsigned char>(der[1]);
  size_t length = 0;
  size_t header = 2;
  if (first < 0x80) {
    length = first;
  } else {
    size_t n = first & 0x7f;
    if (n == 0 || n > 4 || der.size() < 2 + n)
      return std::nullopt;  // No indefinite lengths in DER.
    for (size_t i = 0; i < n; ++i) length = (length << 8) | static_cast<unsigned char>(der[2 + i]);
    header += n;
  }
  if (length > der.size() - header) return std::nullopt;
  e.header = header;
  e.total = header + length;
  return e;
}

}  // namespace

std::string Sha256Digest(std::string_view data) {
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  size_t full = data.size() / 64;
  for (size_t i = 0; i < full; ++i) {
    Compress(h, reinterpret_cast<const unsigned char*>(data.data()) + 64 * i);
  }
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number.
  std::string tail(data.substr(full * 64));
  tail += static_cast<char>(0x80);
  while (tail.size() % 64 != 56) tail += '\0';
  uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 7; i >= 0; --i) tail += static_cast<char>((bits >> (8 * i)) & 0xff);
  for (size_t i = 0; i < tail.size(); i += 64) {
    Compress(h, reinterpret_cast<const unsigned char*>(tail.data()) + i);
  }
  std::string out;
  for (uint32_t v : h) {
    for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  return out;
}

StatusOr<std::string> PemCertificateToDer(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t begin = pem.find(kBegin);
  if (begin == std::string_view::npos) {
    // A file name is the usual mistake: say that the text itself belongs here.
    if (!pem.empty() && pem.front() == '/' && pem.find('\n') == std::string_view::npos) {
      return InvalidArgumentError("no PEM CERTIFICATE block found: '" + std::string(pem) +
                                  "' looks like a file name, but the PEM text itself is "
                                  "needed (e.g. \"{{ lookup('file', 'ca.crt') }}\")");
    }
    return InvalidArgumentError("no PEM CERTIFICATE block found");
  }
  begin += kBegin.size();
  size_t end = pem.find(kEnd, begin);
  if (end == std::string_view::npos)
    return InvalidArgumentError("unterminated PEM CERTIFICATE block");
  std::optional<std::string> der = Base64DecodeStrict(pem.substr(begin, end - begin));
  if (!der || der->empty())
    return InvalidArgumentError("the PEM CERTIFICATE block is not valid base64");
  return *der;
}

StatusOr<std::string> SubjectPublicKeyInfo(std::string_view der) {
  auto bad = [] { return InvalidArgumentError("not a DER X.509 certificate"); };
  std::optional<Element> cert = ReadElement(der);
  if (!cert || cert->tag != 0x30) return bad();
  std::string_view body = der.substr(cert->header, cert->total - cert->header);
  std::optional<Element> tbs = ReadElement(body);
  if (!tbs || tbs->tag != 0x30) return bad();
  std::string_view fields = body.substr(tbs->header, tbs->total - tbs->header);
  // TBSCertificate: [0] version (optional), serialNumber, signature, issuer,
  // validity, subject, subjectPublicKeyInfo, ...
  std::optional<Element> e = ReadElement(fields);
  if (!e) return bad();
  if (e->tag == 0xa0) {
    fields.remove_prefix(e->total);
    e = ReadElement(fields);
    if (!e) return bad();
  }
  static constexpr unsigned char kExpected[] = {0x02, 0x30, 0x30, 0x30, 0x30};
  for (unsigned char tag : kExpected) {
    if (!e || e->tag != tag) return bad();
    fields.remove_prefix(e->total);
    e = ReadElement(fields);
  }
  if (!e || e->tag != 0x30) return bad();
  return std::string(fields.substr(0, e->total));
}

StatusOr<std::string> CaCertHash(std::string_view pem) {
  PVEK8S_ASSIGN_OR_RETURN(std::string der, PemCertificateToDer(pem));
  PVEK8S_ASSIGN_OR_RETURN(std::string spki, SubjectPublicKeyInfo(der));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char c : Sha256Digest(spki)) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> KubeconfigCa(std::string_view kubeconfig) {
  constexpr std::string_view kKey = "certificate-authority-data:";
  size_t pos = kubeconfig.find(kKey);
  if (pos == std::string_view::npos) return std::nullopt;
  size_t start = pos + kKey.size();
  size_t end = kubeconfig.find('\n', start);
  std::string value(kubeconfig.substr(start, end == std::string_view::npos ? end : end - start));
  std::string cleaned;
  for (char c : value) {
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '"' && c != '\'') cleaned += c;
  }
  return Base64DecodeStrict(cleaned);
}

bool IsCaCertHash(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || text.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace pvek8s::kubeadm
