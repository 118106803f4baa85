// Self-signed certificates for go-plugin's automatic mutual TLS.
#ifndef PROVIDER_PLUGIN_TLS_H_
#define PROVIDER_PLUGIN_TLS_H_

#include <string>

#include "provider/base/status.h"

namespace pvek8s::plugin {

struct Certificate {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_der;
};

// A fresh ECDSA P-256 key and a self-signed CA certificate that Go's TLS stack
// accepts for "localhost": SAN DNS:localhost (Go ignores the CN), server and
// client auth EKUs, valid from 30 s ago (clock skew) for 30 years.
StatusOr<Certificate> GenerateLocalhostCertificate();

}  // namespace pvek8s::plugin

#endif  // PROVIDER_PLUGIN_TLS_H_
