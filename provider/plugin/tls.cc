#include "provider/plugin/tls.h"

#include "provider/base/x509.h"

namespace pvek8s::plugin {

StatusOr<Certificate> GenerateLocalhostCertificate() {
  SelfSignedSpec spec;
  spec.common_name = "localhost";
  spec.organization = "pvek8s";
  spec.basic_constraints = "critical,CA:TRUE";
  spec.key_usage = "critical,digitalSignature,keyEncipherment,keyAgreement,keyCertSign";
  spec.extended_key_usage = "serverAuth,clientAuth";
  spec.subject_alt_name = "DNS:localhost";
  spec.not_before_offset_seconds = -30;
  spec.validity_seconds = 60L * 60 * 262980;
  PVEK8S_ASSIGN_OR_RETURN(CaBundle made, GenerateSelfSigned(spec));
  return Certificate{std::move(made.cert_pem), std::move(made.key_pem), std::move(made.cert_der)};
}

}  // namespace pvek8s::plugin
