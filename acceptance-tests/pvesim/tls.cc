#include "acceptance-tests/pvesim/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace pvek8s::pvesim {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Status WriteCertificate(const std::string& cert_path, const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  if (!key) return InternalError("cannot generate a P-256 key");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), &BN_free);
  BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "O", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("PVE Cluster Manager CA (pvesim)"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // CA:TRUE lets clients use the file both as a pinned leaf and as a CA bundle.
  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1")) {
    return InternalError("cannot add certificate extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return InternalError("cannot sign the certificate");
  }
  std::string key_tmp = key_path + ".tmp";
  std::string cert_tmp = cert_path + ".tmp";
  {
    File f(std::fopen(key_tmp.c_str(), "w"));
    if (!f) return InternalError("cannot write " + key_tmp);
    chmod(key_tmp.c_str(), 0600);
    if (PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return InternalError("cannot write " + key_tmp);
    }
  }
  {
    File f(std::fopen(cert_tmp.c_str(), "w"));
    if (!f || PEM_write_X509(f.get(), cert.get()) != 1) {
      return InternalError("cannot write " + cert_tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(key_tmp, key_path, ec);
  if (ec) return InternalError("cannot rename " + key_tmp + ": " + ec.message());
  std::filesystem::rename(cert_tmp, cert_path, ec);
  if (ec) return InternalError("cannot rename " + cert_tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

StatusOr<TlsFiles> EnsureSelfSignedCertificate(const std::string& dir) {
  TlsFiles files{dir + "/pvesim-cert.pem", dir + "/pvesim-key.pem"};
  if (std::filesystem::exists(files.cert_path) && std::filesystem::exists(files.key_path)) {
    return files;
  }
  PVEK8S_RETURN_IF_ERROR(WriteCertificate(files.cert_path, files.key_path));
  return files;
}

StatusOr<std::string> CertificateFingerprintSha256(const std::string& cert_path) {
  File f(std::fopen(cert_path.c_str(), "r"));
  if (!f) return NotFoundError("cannot open " + cert_path);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return InvalidArgumentError("no PEM certificate in " + cert_path);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
    return InternalError("cannot digest the certificate");
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace pvek8s::pvesim
