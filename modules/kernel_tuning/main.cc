// gcid.k8s.kernel_tuning, an Ansible binary module. See kernel_tuning.h.
#include "modules/ansible/module.h"
#include "modules/kernel_tuning/kernel_tuning.h"

int main(int argc, char** argv) {
  const pvek8s::kernel_tuning::SystemPaths system =
      pvek8s::kernel_tuning::SystemPaths::FromEnvironment();
  return pvek8s::ansible::RunModule(
      argc, argv, "gcid.k8s.kernel_tuning", pvek8s::kernel_tuning::Spec(),
      [&](pvek8s::ansible::Module& module) { return pvek8s::kernel_tuning::Run(module, system); });
}
