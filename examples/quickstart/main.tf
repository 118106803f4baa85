# Quickstart: a Kubernetes cluster identity, made locally by the provider.
# No Proxmox connection is needed for this resource.
terraform {
  required_providers {
    proxmox = {
      source  = "gcid/proxmox"
      version = "0.1.0"
    }
  }
}

provider "proxmox" {}

resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "192.168.100.171:6443"
  kubernetes_version     = "1.26.1"
  pod_subnet             = "172.16.0.0/16"
  service_subnet         = "172.17.0.0/18"
}

output "ca_cert_hash" {
  description = "What kubeadm join verifies the control plane's CA against."
  value       = proxmox_k8s_cluster.lab.ca_cert_hash
}

output "token_expires_at" {
  value = proxmox_k8s_cluster.lab.token_expires_at
}
