# The lab: three Kubernetes nodes on three Proxmox VE hosts, a cluster
# identity, and the Ansible inventory, with no address typed by hand.
#
#   terraform init && terraform apply
#   terraform output -raw inventory > inventory.yml
#   ansible-playbook -i inventory.yml site.yml
terraform {
  required_version = ">= 1.5"
  required_providers {
    proxmox = {
      source  = "gcid/proxmox"
      version = "0.1.0"
    }
  }
}

# Connection settings come from the environment, so no secret is in a file:
#   PROXMOX_VE_ENDPOINT=https://pve1.example.com:8006
#   PROXMOX_VE_API_TOKEN_ID='terraformuser@pam!terraform'
#   PROXMOX_VE_API_TOKEN_SECRET=...
#   PROXMOX_VE_TLS_FINGERPRINT=AB:CD:...   (pvenode cert info)
provider "proxmox" {}

locals {
  # One control plane and var.workers workers, placed round-robin on the
  # Proxmox VE hosts: the fourth node (workers = 3) goes to the first host.
  node_count = 1 + var.workers
  names      = [for i in range(local.node_count) : "k8spps${i + 1}"]
  ips        = [for i in range(local.node_count) : cidrhost(var.node_subnet, var.first_host + i)]
  # The first node runs the control plane.
  control_plane_ip = local.ips[0]
}

resource "proxmox_k8s_cluster" "lab" {
  name                   = var.cluster_name
  control_plane_endpoint = "${local.control_plane_ip}:6443"
  kubernetes_version     = var.kubernetes_version
  pod_subnet             = var.pod_subnet
  service_subnet         = var.service_subnet
  token_ttl              = var.token_ttl
}

resource "proxmox_k8s_node" "k8s" {
  count       = local.node_count
  name        = local.names[count.index]
  description = "k8s pps"
  target_node = var.proxmox_nodes[count.index % length(var.proxmox_nodes)]
  template    = lookup(var.node_templates, local.names[count.index], var.template)
  role        = count.index == 0 ? "control-plane" : "worker"
  cluster     = proxmox_k8s_cluster.lab.id
  memory      = 8192
  on_boot     = true

  cpu {
    cores   = 8
    sockets = 1
    type    = "host"
  }
  disk {
    size     = "20G"
    storage  = "local-lvm"
    iothread = true
  }
  network {
    bridge = "vmbr0"
    model  = "virtio"
  }
  ip {
    address = "${local.ips[count.index]}/${split("/", var.node_subnet)[1]}"
    gateway = var.gateway
  }
  nameservers     = var.nameservers
  ssh_user        = var.ssh_user
  ssh_public_keys = var.ssh_public_keys
  tags            = ["k8s", "kubeflow"]
  labels          = count.index == 0 ? {} : { "node-role.kubernetes.io/worker" = "" }
}

data "proxmox_k8s_inventory" "lab" {
  cluster         = proxmox_k8s_cluster.lab
  nodes           = proxmox_k8s_node.k8s
  ansible_user    = var.ssh_user
  include_secrets = true
}

output "inventory" {
  description = "Ansible inventory (YAML) with the join material; write it with terraform output -raw inventory."
  value       = data.proxmox_k8s_inventory.lab.sensitive_yaml
  sensitive   = true
}

output "nodes" {
  description = "Name, address and role of each node."
  value = {
    for n in proxmox_k8s_node.k8s : n.name => { address = n.ipv4_address, role = n.role, id = n.id }
  }
}

output "ca_cert_hash" {
  value = proxmox_k8s_cluster.lab.ca_cert_hash
}
