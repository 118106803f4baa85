// gcid.k8s.node_drain, an Ansible binary module. See node_drain.h.
#include "modules/ansible/module.h"
#include "modules/node_drain/node_drain.h"

int main(int argc, char** argv) {
  return pvek8s::ansible::RunModule(argc, argv, "gcid.k8s.node_drain",
                                    pvek8s::node_drain::DrainSpec(),
                                    [](pvek8s::ansible::Module& module) {
                                      return pvek8s::node_drain::RunDrain(module, "kubectl");
                                    });
}
