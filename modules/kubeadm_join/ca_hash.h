// kubeadm's CA public key pin: "sha256:" + hex SHA-256 of the CA certificate's
// DER SubjectPublicKeyInfo (the same for RSA and ECDSA keys).
//
// Implemented without OpenSSL so that module binaries stay small and static;
// tests compare it with the openssl command line.
#ifndef MODULES_KUBEADM_JOIN_CA_HASH_H_
#define MODULES_KUBEADM_JOIN_CA_HASH_H_

#include <optional>
#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// SHA-256 of `data`, 32 raw bytes (FIPS 180-4).
std::string Sha256Digest(std::string_view data);

// The DER bytes of the first "CERTIFICATE" block of a PEM text.
StatusOr<std::string> PemCertificateToDer(std::string_view pem);

// The DER SubjectPublicKeyInfo (tag, length and content) of a DER X.509 certificate.
StatusOr<std::string> SubjectPublicKeyInfo(std::string_view der);

// "sha256:<64 lower-case hex>" for the first certificate of `pem`.
StatusOr<std::string> CaCertHash(std::string_view pem);

// The PEM CA certificate embedded in a kubeconfig (certificate-authority-data);
// nullopt when there is none or it is not base64.
std::optional<std::string> KubeconfigCa(std::string_view kubeconfig);

// True for "sha256:" followed by exactly 64 hex digits (any case).
bool IsCaCertHash(std::string_view text);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_JOIN_CA_HASH_H_
