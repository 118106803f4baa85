// kubeadm's CA public key pin: "sha256:" + hex SHA-256 of the CA certificate's
// DER SubjectPublicKeyInfo (the same for RSA and ECDSA keys).
//
// Implemented without OpenSSL (a DER walk and the base library's SHA-256) so
// that module binaries stay small and static. The provider computes the same
// pin with OpenSSL (CaCertHashFromPem in provider/base/x509.h); ca_hash_test
// feeds both, and the openssl command line kubeadm documents, the same
// certificates.
#ifndef MODULES_KUBEADM_CA_HASH_H_
#define MODULES_KUBEADM_CA_HASH_H_

#include <optional>
#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s::kubeadm {

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

#endif  // MODULES_KUBEADM_CA_HASH_H_
