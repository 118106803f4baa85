# The identity of a kubeadm cluster, made locally: no Proxmox VE connection
# is needed. Keep the state encrypted: it holds the CA key and the token.
resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "192.168.100.171:6443"
  kubernetes_version     = "1.26.1"
  pod_subnet             = "172.16.0.0/16"
  service_subnet         = "172.17.0.0/18"

  # Optional: defaults are ecdsa-p256, 3650 days and 24h.
  ca_algorithm     = "ecdsa-p256"
  ca_validity_days = 3650
  token_ttl        = "24h"
}

# What the nodes need to join, e.g. for an Ansible inventory.
output "join" {
  value = {
    endpoint     = proxmox_k8s_cluster.lab.control_plane_endpoint
    ca_cert_hash = proxmox_k8s_cluster.lab.ca_cert_hash
    token        = proxmox_k8s_cluster.lab.bootstrap_token
  }
  sensitive = true
}
