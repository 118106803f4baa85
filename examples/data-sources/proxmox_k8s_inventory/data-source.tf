# Render the Ansible inventory of a cluster and its nodes: no address is
# typed by hand.
resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "192.168.100.171:6443"
}

resource "proxmox_k8s_node" "k8s" {
  count       = 3
  name        = "k8spps${count.index + 1}"
  target_node = ["pve1", "pve2", "pve3"][count.index]
  template    = "ubuntu-2204-template"
  role        = count.index == 0 ? "control-plane" : "worker"
  network {}
  ip {
    address = "192.168.100.${171 + count.index}/24"
    gateway = "192.168.100.1"
  }
}

data "proxmox_k8s_inventory" "lab" {
  cluster         = proxmox_k8s_cluster.lab
  nodes           = proxmox_k8s_node.k8s
  ansible_user    = "ubuntu"
  include_secrets = true # bootstrap token and certificate key in sensitive_yaml
}

# terraform output -raw inventory > inventory.yml
output "inventory" {
  value     = data.proxmox_k8s_inventory.lab.sensitive_yaml
  sensitive = true
}
