# The Proxmox VE nodes that are online, e.g. as placement candidates.
data "proxmox_nodes" "online" {
  online_only = true
}

output "proxmox_nodes" {
  value = data.proxmox_nodes.online.names
}
