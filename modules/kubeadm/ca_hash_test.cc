// The modules' CA pin against the openssl command line kubeadm documents and
// against the provider's OpenSSL implementation (provider/base/x509.h): the
// provider hands out the pin that these modules check, so the two must agree.
#include "modules/kubeadm/ca_hash.h"

#include <doctest/doctest.h>

#include <chrono>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"
#include "provider/base/encoding.h"
#include "provider/base/x509.h"

namespace pvek8s::kubeadm {
namespace {

using namespace std::chrono_literals;

// The pin, computed by the openssl command line as kubeadm's docs describe it.
std::string OpensslPin(const std::string& cert_path) {
  auto r = ansible::RunCommand(
      {"sh", "-c",
       "openssl x509 -pubkey -noout -in '" + cert_path +
           "' | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'"},
      30s);
  REQUIRE(r.ok());
  REQUIRE(r->exit_code == 0);
  std::string out = r->out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return "sha256:" + out;
}

TEST_CASE("the CA pin equals openssl's for RSA and ECDSA CAs") {
  ansible::testing::TempDir d;
  for (const char* key :
       {"rsa:2048", "ec -pkeyopt ec_paramgen_curve:P-256", "ec -pkeyopt ec_paramgen_curve:P-384"}) {
    CAPTURE(key);
    std::string cert = d / "ca.crt";
    auto gen = ansible::RunCommand(
        {"sh", "-c",
         std::string("openssl req -x509 -newkey ") + key + " -nodes -keyout '" + (d / "ca.key") +
             "' -out '" + cert + "' -days 1 -subj /CN=kubernetes 2>&1"},
        60s);
    REQUIRE(gen.ok());
    REQUIRE_MESSAGE(gen->exit_code == 0, gen->out);
    std::string pem = ansible::testing::ReadText(cert);
    auto pin = CaCertHash("some text before\n" + pem);
    REQUIRE_MESSAGE(pin.ok(), pin.status().message());
    CHECK(*pin == OpensslPin(cert));
    CHECK(IsCaCertHash(*pin));
    auto provider_pin = CaCertHashFromPem(pem);
    REQUIRE_MESSAGE(provider_pin.ok(), provider_pin.status().message());
    CHECK(*provider_pin == *pin);
  }
}

TEST_CASE("the CA pin equals the provider's for the CAs proxmox_k8s_cluster makes") {
  ansible::testing::TempDir d;
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kRsa2048}) {
    CAPTURE(static_cast<int>(alg));
    StatusOr<CaBundle> ca = GenerateCa(alg, 365);
    REQUIRE_MESSAGE(ca.ok(), ca.status().message());
    StatusOr<std::string> provider_pin = CaCertHashFromPem(ca->cert_pem);
    REQUIRE_MESSAGE(provider_pin.ok(), provider_pin.status().message());
    StatusOr<std::string> module_pin = CaCertHash(ca->cert_pem);
    REQUIRE_MESSAGE(module_pin.ok(), module_pin.status().message());
    CHECK(*module_pin == *provider_pin);
    std::string cert = d / "ca.crt";
    ansible::testing::WriteText(cert, ca->cert_pem);
    CHECK(*module_pin == OpensslPin(cert));
    // The DER walk finds the same key bytes as OpenSSL's parser.
    StatusOr<std::string> der = PemCertificateToDer(ca->cert_pem);
    REQUIRE(der.ok());
    CHECK(*der == ca->cert_der);
    // A kubeconfig carries the CA as base64 of the PEM.
    std::optional<std::string> embedded = KubeconfigCa(
        "clusters:\n- cluster:\n    certificate-authority-data: " + Base64Encode(ca->cert_pem) +
        "\n    server: https://10.0.0.1:6443\n");
    REQUIRE(embedded.has_value());
    StatusOr<std::string> embedded_pin = CaCertHash(*embedded);
    REQUIRE(embedded_pin.ok());
    CHECK(*embedded_pin == *provider_pin);
  }
}

TEST_CASE("malformed certificates are errors, not crashes") {
  CHECK(CaCertHash("no pem here").status().message() == "no PEM CERTIFICATE block found");
  CHECK(
      CaCertHash("/etc/kubernetes/pki/ca.crt").status().message().find("looks like a file name") !=
      std::string::npos);
  CHECK_FALSE(CaCertHash("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").ok());
  CHECK_FALSE(CaCertHash("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").ok());
  CHECK_FALSE(SubjectPublicKeyInfo(std::string("\x30\x84\xff\xff\xff\xff", 6)).ok());
  CHECK_FALSE(IsCaCertHash("sha256:abc"));
  CHECK_FALSE(IsCaCertHash("md5:" + std::string(64, 'a')));
}

}  // namespace
}  // namespace pvek8s::kubeadm
