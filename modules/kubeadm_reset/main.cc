// gcid.k8s.kubeadm_reset, an Ansible binary module. See kubeadm_reset.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_reset/kubeadm_reset.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(argc, argv, "gcid.k8s.kubeadm_reset",
                                    pvek8s::kubeadm::ResetSpec(),
                                    [&](pvek8s::ansible::Module& module) {
                                      return pvek8s::kubeadm::RunReset(module, system, {});
                                    });
}
