#include "modules/kubeadm/ca_hash.h"

#include <cctype>
#include <optional>

#include "provider/base/encoding.h"

namespace pvek8s::kubeadm {
namespace {

// Base64 with line breaks and other white space between characters, as PEM
// bodies and kubeconfig values carry it.
std::optional<std::string> Base64DecodeSpaced(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  return Base64Decode(compact);
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
  std::optional<std::string> der = Base64DecodeSpaced(pem.substr(begin, end - begin));
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
  return "sha256:" + HexEncode(Sha256(spki));
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
  return Base64Decode(cleaned);
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
