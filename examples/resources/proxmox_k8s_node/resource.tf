# A control-plane node cloned from a cloud-init template, with a static
# address. The provider picks a free VM id and waits for the guest agent to
# report the address before the create finishes.
resource "proxmox_k8s_node" "control_plane" {
  name        = "k8spps1"
  template    = "ubuntu-2204-template"
  target_node = "pve1"
  cluster     = proxmox_k8s_cluster.lab.id
  role        = "control-plane"

  cpu {
    cores = 8
  }
  memory = 8192

  disk {
    size    = "20G"
    storage = "local-lvm"
  }

  network {
    bridge = "vmbr0"
  }

  ip {
    address = "192.168.100.171/24"
    gateway = "192.168.100.1"
  }
  nameservers     = ["192.168.100.1"]
  ssh_user        = "ubuntu"
  ssh_public_keys = [var.ssh_public_key]

  tags = ["k8s"]
}

# Workers spread over several Proxmox nodes: each goes to the candidate with
# the most free memory, and stays there.
resource "proxmox_k8s_node" "worker" {
  count        = 2
  name         = "k8spps${count.index + 2}"
  template     = "ubuntu-2204-template"
  target_nodes = ["pve2", "pve3"]
  cluster      = proxmox_k8s_cluster.lab.id

  cpu {
    cores = 8
  }
  memory = 8192

  disk {
    size = "20G"
  }

  network {
    bridge = "vmbr0"
  }

  ip {
    address = "192.168.100.${172 + count.index}/24"
    gateway = "192.168.100.1"
  }
  ssh_user        = "ubuntu"
  ssh_public_keys = [var.ssh_public_key]
}

resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "192.168.100.171:6443"
}

variable "ssh_public_key" {
  description = "Public key the nodes accept, e.g. the contents of ~/.ssh/id_ed25519.pub."
  type        = string
}
