#include "provider/plugin/serve.h"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "provider/plugin/log_level.h"
#include "provider/plugin/tls.h"

namespace pvek8s::plugin {
namespace {

TEST_CASE("protocol 6 is chosen in any order, refused when not offered") {
  CHECK(NegotiateProtocol("5,6") == 6);
  CHECK(NegotiateProtocol("6,5") == 6);
  CHECK(NegotiateProtocol(" 6 ") == 6);
  CHECK(NegotiateProtocol(nullptr) == 6);
  CHECK(NegotiateProtocol("5") == 0);
  CHECK(NegotiateProtocol("16") == 0);
}

TEST_CASE("the plugin certificate is what Go's TLS accepts for localhost") {
  auto cert = GenerateLocalhostCertificate();
  REQUIRE(cert.ok());
  BIO* bio = BIO_new_mem_buf(cert->cert_pem.data(), static_cast<int>(cert->cert_pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(x != nullptr);
  CHECK(X509_check_host(x, "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ca(x) >= 1);
  CHECK((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);
  CHECK((X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) != 0);
  // Valid now (not-before is in the past).
  CHECK(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
  CHECK(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
  CHECK(X509_verify(x, X509_get0_pubkey(x)) == 1);
  X509_free(x);
  // DER and PEM describe the same certificate.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(cert->cert_der.data());
  X509* y = d2i_X509(nullptr, &p, static_cast<long>(cert->cert_der.size()));
  REQUIRE(y != nullptr);
  X509_free(y);
  // Each start has its own key.
  CHECK(GenerateLocalhostCertificate()->key_pem != cert->key_pem);
}

}  // namespace
}  // namespace pvek8s::plugin

namespace pvek8s::plugin {
namespace {

TEST_CASE("the provider logs what TF_LOG_PROVIDER or TF_LOG asks for") {
  CHECK(LogLevelFromEnv(nullptr, nullptr) == log::Level::kWarn);
  CHECK(LogLevelFromEnv("", "") == log::Level::kWarn);
  CHECK(LogLevelFromEnv(nullptr, "TRACE") == log::Level::kTrace);
  CHECK(LogLevelFromEnv(nullptr, "json") == log::Level::kTrace);
  CHECK(LogLevelFromEnv("info", "TRACE") == log::Level::kInfo);  // the provider's own wins
  CHECK(LogLevelFromEnv("", "Debug") == log::Level::kDebug);
  CHECK(LogLevelFromEnv("OFF", nullptr) == log::Level::kError);
  CHECK(LogLevelFromEnv("verbose", nullptr) == log::Level::kWarn);
}

}  // namespace
}  // namespace pvek8s::plugin
