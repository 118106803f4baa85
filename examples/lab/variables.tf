variable "proxmox_nodes" {
  description = "Proxmox VE hosts the nodes are placed on, round-robin (the control plane on the first)."
  type        = list(string)
  default     = ["pve1", "pve2", "pve3"]
}

variable "workers" {
  description = "Number of worker nodes (k8spps2, k8spps3, ...). Raise it to add a worker, then run site.yml and cluster.yml; lower it after remove-node.yml."
  type        = number
  default     = 2
  validation {
    condition     = var.workers >= 0 && var.workers == floor(var.workers)
    error_message = "workers must be a whole number, 0 or more."
  }
}

variable "template" {
  description = "Cloud-init template to clone (Ubuntu 22.04 with qemu-guest-agent)."
  type        = string
  default     = "ubuntu-2204-template"
}

variable "node_templates" {
  description = "Per-node template overrides by node name, for rebuilding nodes from a new template one at a time (README: rolling rebuild)."
  type        = map(string)
  default     = {}
}

variable "node_subnet" {
  description = "Subnet of the nodes' static addresses."
  type        = string
  default     = "192.168.100.0/24"
}

variable "first_host" {
  description = "Host number of the first node in node_subnet (171 gives 192.168.100.171, .172, ...)."
  type        = number
  default     = 171
}

variable "gateway" {
  type    = string
  default = "192.168.100.1"
}

variable "nameservers" {
  type    = list(string)
  default = ["8.8.8.8", "1.1.1.1"]
}

variable "ssh_user" {
  description = "User cloud-init creates and Ansible logs in as."
  type        = string
  default     = "ubuntu"
}

variable "ssh_public_keys" {
  description = "Keys allowed to log in as ssh_user."
  type        = list(string)
  default     = []
}

variable "cluster_name" {
  type    = string
  default = "lab"
}

variable "token_ttl" {
  description = "Lifetime of the bootstrap token; the next terraform apply after it issues a new one, which cluster.yml registers on the control plane before joins."
  type        = string
  default     = "24h"
}

variable "kubernetes_version" {
  type    = string
  default = "1.26.1"
}

variable "pod_subnet" {
  type    = string
  default = "172.16.0.0/16"
}

variable "service_subnet" {
  type    = string
  default = "172.17.0.0/18"
}
