// TLS material for pvesim: a self-signed certificate kept in the data
// directory, or one given on the command line.
#ifndef ACCEPTANCE_TESTS_PVESIM_TLS_H_
#define ACCEPTANCE_TESTS_PVESIM_TLS_H_

#include <string>

#include "provider/base/status.h"

namespace pvek8s::pvesim {

struct TlsFiles {
  std::string cert_path;  // PEM certificate (also what clients pin as CA).
  std::string key_path;   // PEM private key.
};

// Returns DIR/pvesim-cert.pem and DIR/pvesim-key.pem, creating a fresh
// self-signed P-256 certificate (SAN: localhost, 127.0.0.1, ::1; 10 years)
// when either file is missing. Existing files are reused unchanged.
StatusOr<TlsFiles> EnsureSelfSignedCertificate(const std::string& dir);

// The SHA-256 fingerprint of the first certificate in the PEM file, as
// upper-case hex pairs joined by ':' (the form the Proxmox GUI shows).
StatusOr<std::string> CertificateFingerprintSha256(const std::string& cert_path);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_TLS_H_
