# An existing VM is imported by "<proxmox node>/<vmid>". Importing adopts the
# VM: from then on this resource manages it, `terraform destroy` included, and
# the next apply adds the provider's ownership marker to the VM's notes.
terraform import 'proxmox_k8s_node.worker[0]' pve2/702
