# An existing VM is imported by "<proxmox node>/<vmid>". Importing adopts the
# VM: from then on this resource manages it, `terraform destroy` included, and
# the next apply adds the provider's ownership marker to the VM's notes.
terraform import 'proxmox_k8s_node.worker[0]' pve2/702

# Or with an import block. Imported with the configuration that created it
# (optional blocks such as cpu and disk written or left out, as they were),
# the apply reports "0 changed" and the next plan is empty. A create plan
# that finds a VM of the planned name fails rather than clone a second node
# of that name, and prints this block when the VM carries our marker:
#
#   import {
#     to = proxmox_k8s_node.worker[0]
#     id = "pve2/702"
#   }
