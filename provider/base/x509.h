// Kubernetes CA material: generation and kubeadm's CA certificate hash.
// Shared by the provider (proxmox_k8s_cluster) and the kubeadm modules.
#ifndef PROVIDER_BASE_X509_H_
#define PROVIDER_BASE_X509_H_

#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s {

enum class KeyAlgorithm { kEcdsaP256, kRsa2048 };

struct CaBundle {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
  std::string cert_der;
};

// What a self-signed certificate says about itself.
struct SelfSignedSpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kEcdsaP256;
  std::string common_name;
  std::string organization;  // omitted when empty
  // OpenSSL extension values, e.g. "critical,CA:TRUE"; empty ones are skipped.
  std::string basic_constraints;
  std::string key_usage;
  std::string extended_key_usage;
  std::string subject_alt_name;
  bool subject_key_identifier = false;
  long not_before_offset_seconds = 0;  // negative: valid since before now
  long validity_seconds = 0;
};

// A fresh key and a self-signed X.509 v3 certificate with a random 128-bit
// serial, signed with SHA-256.
StatusOr<CaBundle> GenerateSelfSigned(const SelfSignedSpec& spec);

// A self-signed CA as kubeadm makes one: CN `common_name`, CA:TRUE, key usages
// digitalSignature, keyEncipherment, keyCertSign, valid from now for
// `validity_days`.
StatusOr<CaBundle> GenerateCa(KeyAlgorithm algorithm, int validity_days,
                              std::string_view common_name = "kubernetes");

// kubeadm's --discovery-token-ca-cert-hash for a PEM certificate:
// "sha256:" + hex SHA-256 of the DER SubjectPublicKeyInfo. Works for RSA and
// ECDSA keys alike.
StatusOr<std::string> CaCertHashFromPem(std::string_view cert_pem);

// True when `key_pem` is the private key of `cert_pem`.
StatusOr<bool> KeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem);

// A bootstrap token: [a-z0-9]{6}.[a-z0-9]{16} from the CSPRNG.
std::string NewBootstrapToken();
// True when `token` has the bootstrap-token shape.
bool IsBootstrapToken(std::string_view token);

// kubeadm's --certificate-key: 32 random bytes as 64 lower-case hex digits.
std::string NewCertificateKey();

}  // namespace pvek8s

#endif  // PROVIDER_BASE_X509_H_
