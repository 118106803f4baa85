#include "modules/kubeadm_join/ca_hash.h"

#include <doctest/doctest.h>

#include <chrono>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"

namespace pvek8s::kubeadm {
namespace {

using namespace std::chrono_literals;

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

TEST_CASE("SHA-256 matches the FIPS 180-4 examples and block boundaries") {
  CHECK(Hex(Sha256Digest("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Hex(Sha256Digest("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Hex(Sha256Digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Hex(Sha256Digest(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

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
