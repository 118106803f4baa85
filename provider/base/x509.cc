#include "provider/base/x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "provider/base/encoding.h"

namespace pvek8s {
namespace {

struct PKeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

bool AddExt(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

StatusOr<X509Ptr> ParseCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgumentError("not a PEM-encoded X.509 certificate");
  return cert;
}

constexpr std::string_view kTokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

StatusOr<CaBundle> GenerateSelfSigned(const SelfSignedSpec& spec) {
  PKeyPtr key(spec.algorithm == KeyAlgorithm::kEcdsaP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  if (!key) return InternalError("key generation failed");
  X509Ptr cert(X509_new());
  if (!cert) return InternalError("cannot allocate a certificate");
  X509_set_version(cert.get(), 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.validity_seconds);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add_name = [&](const char* field, const std::string& value) {
    if (value.empty()) return;
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  };
  add_name("O", spec.organization);
  add_name("CN", spec.common_name);
  X509_set_issuer_name(cert.get(), name);
  const std::pair<int, const std::string*> exts[] = {
      {NID_basic_constraints, &spec.basic_constraints},
      {NID_key_usage, &spec.key_usage},
      {NID_ext_key_usage, &spec.extended_key_usage},
      {NID_subject_alt_name, &spec.subject_alt_name}};
  for (const auto& [nid, value] : exts) {
    if (!value->empty() && !AddExt(cert.get(), nid, value->c_str())) {
      return InternalError("cannot add certificate extension " + *value);
    }
  }
  if (spec.subject_key_identifier && !AddExt(cert.get(), NID_subject_key_identifier, "hash")) {
    return InternalError("cannot add the subject key identifier");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return InternalError("cannot sign the certificate");
  }
  CaBundle out;
  BioPtr cb(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cb.get(), cert.get());
  out.cert_pem = BioString(cb.get());
  BioPtr kb(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = BioString(kb.get());
  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return InternalError("cannot encode the certificate");
  out.cert_der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  return out;
}

StatusOr<CaBundle> GenerateCa(KeyAlgorithm algorithm, int validity_days,
                              std::string_view common_name) {
  SelfSignedSpec spec;
  spec.algorithm = algorithm;
  spec.common_name = std::string(common_name);
  spec.basic_constraints = "critical,CA:TRUE";
  spec.key_usage = "critical,digitalSignature,keyEncipherment,keyCertSign";
  spec.subject_key_identifier = true;
  spec.validity_seconds = 86400L * validity_days;
  return GenerateSelfSigned(spec);
}

StatusOr<std::string> CaCertHashFromPem(std::string_view cert_pem) {
  PVEK8S_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &spki);
  if (len <= 0) return InvalidArgumentError("certificate has no usable public key");
  std::string der(reinterpret_cast<char*>(spki), static_cast<size_t>(len));
  OPENSSL_free(spki);
  return "sha256:" + HexEncode(Sha256(der));
}

StatusOr<bool> KeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem) {
  PVEK8S_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgumentError("not a PEM-encoded private key");
  return X509_check_private_key(cert.get(), key.get()) == 1;
}

std::string NewBootstrapToken() {
  return RandomString(6, kTokenAlphabet) + "." + RandomString(16, kTokenAlphabet);
}

bool IsBootstrapToken(std::string_view token) {
  if (token.size() != 23 || token[6] != '.') return false;
  for (size_t i = 0; i < token.size(); ++i) {
    if (i == 6) continue;
    if (kTokenAlphabet.find(token[i]) == std::string_view::npos) return false;
  }
  return true;
}

std::string NewCertificateKey() { return HexEncode(RandomBytes(32)); }

}  // namespace pvek8s
