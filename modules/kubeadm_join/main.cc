// gcid.k8s.kubeadm_join, an Ansible binary module. See kubeadm_join.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_join/kubeadm_join.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kubeadm_join", pvek8s::kubeadm::JoinSpec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kubeadm::RunJoin(module, system); });
}
