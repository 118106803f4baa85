#include "provider/base/x509.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace pvek8s {
namespace {

// Runs a shell pipeline and returns its stdout (tests only).
std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// kubeadm's documented recipe for the discovery hash, with the openssl CLI.
std::string OpensslHash(const std::string& pem) {
  char path[] = "/tmp/pvek8s-ca-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << pem;
  std::string hex = Shell(std::string("openssl x509 -pubkey -noout -in ") + path +
                          " | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex"
                          " | sed 's/^.* //'");
  std::remove(path);
  return "sha256:" + hex;
}

TEST_CASE("CA hash matches the openssl command line for ECDSA and RSA") {
  for (auto alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kRsa2048}) {
    auto ca = GenerateCa(alg, 365);
    REQUIRE(ca.ok());
    auto hash = CaCertHashFromPem(ca->cert_pem);
    REQUIRE(hash.ok());
    CHECK(hash->size() == 7 + 64);
    CHECK(*hash == OpensslHash(ca->cert_pem));
    CHECK(*KeyMatchesCertificate(ca->cert_pem, ca->key_pem));
    auto other = GenerateCa(alg, 365);
    CHECK_FALSE(*KeyMatchesCertificate(ca->cert_pem, other->key_pem));
    // The CA says what kubeadm expects of one.
    std::string text = Shell("printf '%s' '" + ca->cert_pem + "' | openssl x509 -noout -text");
    CHECK(text.find("CA:TRUE") != std::string::npos);
    CHECK(text.find("Certificate Sign") != std::string::npos);
    CHECK(text.find("CN = kubernetes") != std::string::npos);
  }
  CHECK_FALSE(CaCertHashFromPem("garbage").ok());
}

TEST_CASE("bootstrap tokens and certificate keys have kubeadm's shapes") {
  for (int i = 0; i < 100; ++i) {
    std::string t = NewBootstrapToken();
    CHECK(IsBootstrapToken(t));
  }
  CHECK(NewBootstrapToken() != NewBootstrapToken());
  CHECK_FALSE(IsBootstrapToken("abcdef.0123456789abcdeF"));
  CHECK_FALSE(IsBootstrapToken("abcdef0123456789abcdef0"));
  CHECK(IsBootstrapToken("abcdef.0123456789abcdef"));
  std::string k = NewCertificateKey();
  CHECK(k.size() == 64);
  CHECK(k.find_first_not_of("0123456789abcdef") == std::string::npos);
}

}  // namespace
}  // namespace pvek8s
