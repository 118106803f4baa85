// gcid.k8s.kubeadm_upgrade, an Ansible binary module. See kubeadm_upgrade.h.
#include "modules/ansible/module.h"
#include "modules/kubeadm_upgrade/kubeadm_upgrade.h"

int main(int argc, char** argv) {
  const pvek8s::kubeadm::System system = pvek8s::kubeadm::System::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kubeadm_upgrade", pvek8s::kubeadm::UpgradeSpec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kubeadm::RunUpgrade(module, system); });
}
