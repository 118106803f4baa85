// gcid.k8s.kubeadm_init, an Ansible binary module. See kubeadm_init.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_init/kubeadm_init.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kubeadm_init", pvek8s::kubeadm::InitSpec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kubeadm::RunInit(module, system); });
}
