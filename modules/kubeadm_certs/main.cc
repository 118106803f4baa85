// gcid.k8s.kubeadm_certs, an Ansible binary module. See kubeadm_certs.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_certs/kubeadm_certs.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kubeadm_certs", pvek8s::kubeadm::CertsSpec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kubeadm::RunCerts(module, system); });
}
