// gcid.k8s.kubeadm_token, an Ansible binary module. See kubeadm_token.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_token/kubeadm_token.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kubeadm_token", pvek8s::kubeadm::TokenSpec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kubeadm::RunToken(module, system); });
}
