# `terraform test` of the lab. It creates and destroys real VMs, so run it
# against pvesim (examples/ci/review-locally.sh --pvesim, the CI workflow),
# with PROXMOX_VE_* naming the simulator, not a production Proxmox VE.

run "plan_one_node_per_host" {
  command = plan

  assert {
    condition     = [for n in proxmox_k8s_node.k8s : n.target_node] == ["pve1", "pve2", "pve3"]
    error_message = "The lab places one node on each of pve1..pve3."
  }
  assert {
    condition     = [for n in proxmox_k8s_node.k8s : n.role] == ["control-plane", "worker", "worker"]
    error_message = "The first node runs the control plane, the others are workers."
  }
  assert {
    condition     = proxmox_k8s_cluster.lab.control_plane_endpoint == "192.168.100.171:6443"
    error_message = "The API server endpoint is the first node's address."
  }
  assert {
    condition     = alltrue([for n in proxmox_k8s_node.k8s : n.cluster == "lab"])
    error_message = "Every node belongs to the lab cluster."
  }
}

run "apply_the_lab" {
  command = apply

  assert {
    condition     = [for n in proxmox_k8s_node.k8s : n.ipv4_address] == ["192.168.100.171", "192.168.100.172", "192.168.100.173"]
    error_message = "Each node reports its static address after apply."
  }
  assert {
    condition     = startswith(output.ca_cert_hash, "sha256:") && length(output.ca_cert_hash) == 71
    error_message = "ca_cert_hash is sha256: and 64 hex digits."
  }
  assert {
    condition     = output.nodes["k8spps1"].role == "control-plane" && length(output.nodes) == 3
    error_message = "The nodes output lists the three nodes by name."
  }
  assert {
    condition     = alltrue([for n in ["k8spps1", "k8spps2", "k8spps3"] : strcontains(nonsensitive(output.inventory), n)])
    error_message = "The inventory names every node."
  }
}

run "add_a_worker_plans_one_create" {
  command = plan

  variables {
    workers = 3
  }

  assert {
    condition     = length(proxmox_k8s_node.k8s) == 4 && proxmox_k8s_node.k8s[3].role == "worker"
    error_message = "A third worker adds a fourth node, a worker."
  }
  assert {
    condition     = proxmox_k8s_node.k8s[3].ipv4_address == "192.168.100.174" && proxmox_k8s_node.k8s[3].target_node == "pve1"
    error_message = "The new node takes the next address and the next host round-robin (pve1)."
  }
}
