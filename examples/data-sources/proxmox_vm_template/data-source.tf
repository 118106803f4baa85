# Where a template is, and how large its disk is (a clone's disk may not be
# smaller).
data "proxmox_vm_template" "ubuntu" {
  name = "ubuntu-2204-template"
}

output "template_nodes" {
  value = data.proxmox_vm_template.ubuntu.nodes
}

output "template_disk_gib" {
  value = data.proxmox_vm_template.ubuntu.disk_size / 1073741824
}
