#!/usr/bin/env bash
# Acceptance test of proxmox_k8s_node and the placement data sources with the
# real terraform CLI against pvesim. Every scenario ends with an empty plan.
# Usage: node_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVNvUG5XFakeKeyForPvek8sTests lab@example"

# lab_config CORES MEMORY DISK TAGS [TEMPLATE]: the users' lab, three nodes.
lab_config() {
  local cores=$1 memory=$2 disk=$3 tags=$4 template=${5:-ubuntu-2204-template}
  provider_block
  cat <<CFG
variable "proxmox_nodes" { default = ["pve1", "pve2", "pve3"] }

data "proxmox_nodes" "all" {}
data "proxmox_vm_template" "ubuntu" { name = "ubuntu-2204-template" }

resource "proxmox_k8s_node" "k8s" {
  count       = length(var.proxmox_nodes)
  name        = "k8spps\${count.index + 1}"
  description = "k8s pps"
  target_node = var.proxmox_nodes[count.index]
  template    = "$template"
  role        = count.index == 0 ? "control-plane" : "worker"
  memory      = $memory
  on_boot     = true
  cpu {
    cores   = $cores
    sockets = 1
    type    = "host"
  }
  disk {
    size     = "$disk"
    storage  = "local-lvm"
    iothread = true
  }
  network {
    bridge = "vmbr0"
    model  = "virtio"
  }
  ip {
    address = "192.168.100.17\${count.index + 1}/24"
    gateway = "192.168.100.1"
  }
  nameservers     = ["192.168.100.1"]
  ssh_user        = "ubuntu"
  ssh_public_keys = ["$KEY"]
  tags            = [$tags]
}

resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "192.168.100.171:6443"
}

data "proxmox_k8s_inventory" "lab" {
  cluster = proxmox_k8s_cluster.lab
  nodes   = proxmox_k8s_node.k8s
}

output "inventory" { value = data.proxmox_k8s_inventory.lab.yaml }
output "ips" { value = proxmox_k8s_node.k8s[*].ipv4_address }
output "ids" { value = proxmox_k8s_node.k8s[*].id }
output "template_nodes" { value = data.proxmox_vm_template.ubuntu.nodes }
output "node_names" { value = data.proxmox_nodes.all.names }
CFG
}

vm_config() {  # vm_config NODE VMID KEY -> value from pvesim
  pve GET "/nodes/$1/qemu/$2/config" | python3 -c "import json,sys; print(json.load(sys.stdin)['data'].get('$3',''))"
}

vms_named() {  # vms_named NAME: "node/vmid" of every VM pvesim holds with NAME, sorted
  local node
  for node in pve1 pve2 pve3; do
    pve GET "/nodes/$node/qemu" | python3 -c "import json,sys
for v in json.load(sys.stdin)['data']:
    if v.get('name') == sys.argv[1]: print(sys.argv[2] + '/' + str(v['vmid']))" "$1" "$node"
  done | sort | tr '\n' ' '
}

state_ids() {  # state_ids: "id" of every resource in the state, sorted, and "tainted" marks
  terraform show -json | python3 -c "import json,sys
r = json.load(sys.stdin).get('values', {}).get('root_module', {}).get('resources', [])
print(' '.join(sorted(x['values']['id'] + (' (tainted)' if x.get('tainted') else '') for x in r)))"
}

vm_count() {  # number of non-template VMs in pvesim
  local n=0 node
  for node in pve1 pve2 pve3; do
    n=$((n + $(pve GET "/nodes/$node/qemu" | python3 -c "import json,sys; print(sum(1 for v in json.load(sys.stdin)['data'] if not v.get('template')))")))
  done
  echo "$n"
}

# pve_has PATH TEXT: a GET of PATH answers with TEXT in it.
pve_has() {
  [[ $(pve GET "$1") == *"$2"* ]]
}

pvesim_start "$PVESIM" main

# --- the lab: create, empty plan ---------------------------------------------------
cd "$(new_workdir lab)"
lab_config 8 8192 20G '"k8s"' >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "plan the lab" tf plan
check "static IPs are known at plan time" output_has '+ "192.168.100.171",'
expect_exit 0 "apply the lab" tf apply -auto-approve
check "three nodes and the cluster created" output_has "Resources: 4 added"
expect_exit 0 "second plan is empty" tf plan -detailed-exitcode
check "three VMs in pvesim" test "$(vm_count)" = 3
terraform output -raw inventory >inventory.yml
ansible-inventory -i inventory.yml --list >inventory.json 2>/dev/null
check "ansible reads the inventory with each node's address" python3 -c "
import json
inv = json.load(open('inventory.json'))
hv = inv['_meta']['hostvars']
assert hv['k8spps1']['ansible_host'] == '192.168.100.171', hv
assert hv['k8spps3']['ansible_host'] == '192.168.100.173', hv
assert inv['kube_control_plane']['hosts'] == ['k8spps1'], inv
assert sorted(inv['kube_workers']['hosts']) == ['k8spps2', 'k8spps3'], inv
assert hv['k8spps2']['k8s_ca_cert_hash'].startswith('sha256:'), hv
assert 'k8s_bootstrap_token' not in hv['k8spps2'], 'secret leaked into the plain inventory'"
ids=$(terraform output -json ids)
check "VM ids are distinct" python3 -c "import json,sys; v=json.loads(sys.argv[1]); assert len(set(x.split('/')[1] for x in v))==3, v" "$ids"
check "data source lists the template's nodes" bash -c "terraform output -json template_nodes | grep -q pve3"
vmid1=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])[0].split('/')[1])" "$ids")
check "pvesim holds the configured memory" test "$(vm_config pve1 "$vmid1" memory)" = 8192
check "pvesim holds the ipconfig" test "$(vm_config pve1 "$vmid1" ipconfig0)" = "ip=192.168.100.171/24,gw=192.168.100.1"
conf1=$(pve GET "/nodes/pve1/qemu/$vmid1/config")
check "the ownership marker is written" grep -q "pvek8s. owner=" <<<"$conf1"
check "sshkeys are stored URL-encoded" bash -c "[[ \$(curl -sk -H 'Authorization: PVEAPIToken=$PVE_TOKEN_ID=$PVE_TOKEN_SECRET' $PVE_URL/api2/json/nodes/pve1/qemu/$vmid1/config) == *ssh-ed25519%20AAAA* ]]"

# --- update in place: cores, memory, disk growth, tags ------------------------------
lab_config 4 12288 25G '"k8s", "kubeflow"' >main.tf
expect_exit 2 "update plan" tf plan -detailed-exitcode
check "update is in place" output_has "Plan: 0 to add, 3 to change, 0 to destroy."
check "the plan warns about the reboot" output_has "Node will reboot"
expect_exit 0 "apply the update" tf apply -auto-approve
expect_exit 0 "plan after update is empty" tf plan -detailed-exitcode
check "memory updated in pvesim" test "$(vm_config pve1 "$vmid1" memory)" = 12288
check "disk grew to 25G" grep -q 'size=25G' <<<"$(pve GET "/nodes/pve1/qemu/$vmid1/config")"
check "same VM ids after update" test "$(terraform output -json ids)" = "$ids"

# --- shrinking a disk is a plan-time error ------------------------------------------
lab_config 4 12288 10G '"k8s", "kubeflow"' >main.tf
expect_exit 1 "shrinking the disk is refused" tf plan
check "the error names disk.size" output_has "Disks cannot shrink"

# --- a template change replaces ----------------------------------------------------
# Each node's own template by id (9000 on pve1, 9001 on pve2, ...): the same
# image, named differently, so Terraform must plan a replacement.
lab_config 4 12288 25G '"k8s", "kubeflow"' '${9000 + count.index}' >main.tf
expect_exit 2 "template change plans a replacement" tf plan -detailed-exitcode
check "replacement says why" output_has "forces replacement"
# Template 9000 lives on pve1 only: the other two could not be cloned there,
# and the plan says so instead of the apply failing halfway.
lab_config 4 12288 25G '"k8s", "kubeflow"' 9000 >main.tf
expect_exit 1 "a template missing from a target node is refused at plan" tf plan
check "the error names the node" output_has 'Template "9000" is not on node pve2'
lab_config 4 12288 25G '"k8s", "kubeflow"' >main.tf

# --- out-of-band changes --------------------------------------------------------------
pve PUT "/nodes/pve2/qemu/$(python3 -c "import json,sys; print(json.loads(sys.argv[1])[1].split('/')[1])" "$ids")/config" -d memory=4096 >/dev/null
expect_exit 0 "refresh-only plan" tf plan -refresh-only -out=refresh.plan
check "refresh-only sees the memory drift" bash -c "terraform show -json refresh.plan | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d.get('resource_drift'), 'no drift'\""
expect_exit 2 "plan corrects the drift" tf plan -detailed-exitcode
check "drift fix is in place" output_has "Plan: 0 to add, 1 to change, 0 to destroy."
expect_exit 0 "apply the correction" tf apply -auto-approve
expect_exit 0 "plan after correction is empty" tf plan -detailed-exitcode

# A VM deleted out of band is re-created.
vmid3=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])[2].split('/')[1])" "$ids")
pve POST "/nodes/pve3/qemu/$vmid3/status/stop" >/dev/null
check "VM $vmid3 stops out of band" \
  wait_until 30 "VM $vmid3 stopped" pve_has "/nodes/pve3/qemu/$vmid3/status/current" '"stopped"'
pve DELETE "/nodes/pve3/qemu/$vmid3" >/dev/null
check "VM $vmid3 is deleted out of band" \
  wait_until 30 "VM $vmid3 gone" pve_has "/nodes/pve3/qemu/$vmid3/config" "does not exist"
expect_exit 2 "a deleted VM is planned for creation" tf plan -detailed-exitcode
check "re-create is one add" output_has "Plan: 1 to add, 0 to change, 0 to destroy."
expect_exit 0 "apply re-creates it" tf apply -auto-approve
expect_exit 0 "plan after re-create is empty" tf plan -detailed-exitcode

# --- import a VM made by another working directory ------------------------------------
cd "$(new_workdir import-src)"
single() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "imp" {
  name        = "imported"
  target_node = "pve1"
  template    = "ubuntu-2204-template"
  role        = "worker"
  memory      = 4096
  cpu {
    cores = 2
  }
  disk {
    size = "12G"
  }
  network {}
  ip {
    address = "dhcp"
  }
}
output "id" { value = proxmox_k8s_node.imp.id }
CFG
}
single >main.tf
expect_exit 0 "init (import source)" tf init
expect_exit 0 "apply the VM to import" tf apply -auto-approve
imp_id=$(terraform output -raw id)
check "DHCP address reported by the agent" bash -c "terraform show -json | grep -q '\"ipv4_address\":\"10\\.'"
cd "$(new_workdir import-dst)"
single >main.tf
expect_exit 0 "init (import destination)" tf init
expect_exit 0 "terraform import $imp_id" tf import proxmox_k8s_node.imp "$imp_id"
expect_exit 0 "plan after import is empty" tf plan -detailed-exitcode
terraform state rm proxmox_k8s_node.imp >/dev/null
expect_exit 1 "a malformed import id is refused" tf import proxmox_k8s_node.imp nonsense
check "the error shows the expected form" output_has "<node>/<vmid>"
cd "$TEST_ROOT/import-src"
expect_exit 0 "destroy the imported VM from its origin" tf destroy -auto-approve

# --- a replacement keeps a fixed vmid ----------------------------------------------
# Terraform plans the new object of a replacement as a create: the plan-time
# check for a vmid in use must not mistake the node being replaced for a conflict.
cd "$(new_workdir fixed-vmid)"
fixed_vmid() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "fixed" {
  name        = "fixedid"
  target_node = "pve2"
  vmid        = 777
  template    = "ubuntu-2204-template"
  full_clone  = $1
  network {}
  ip {
    address = "10.40.0.7/16"
  }
}
CFG
}
# disk_of VMID: VM VMID's boot disk on pve2 as pvesim reports it.
disk_of() {
  vm_config pve2 "$1" scsi0
}
# destroyed_777: how many qmdestroy tasks of VM 777 pve2 has run.
destroyed_777() {
  pve GET "/nodes/pve2/tasks?vmid=777&typefilter=qmdestroy&limit=1000" |
    python3 -c "import json,sys; print(len(json.load(sys.stdin)['data']))"
}
# The template's own base volume on pve2, which a linked clone must reference.
tmpl_id=$(pve GET /nodes/pve2/qemu | python3 -c "import json,sys
print([v['vmid'] for v in json.load(sys.stdin)['data'] if v.get('name') == 'ubuntu-2204-template'][0])")
base=$(disk_of "$tmpl_id")
base=${base%%,*}
fixed_vmid true >main.tf
expect_exit 0 "init (fixed vmid)" tf init
expect_exit 0 "apply a node with vmid 777" tf apply -auto-approve
full_disk=$(disk_of 777)
echo "# template $tmpl_id base volume $base; full clone 777 disk $full_disk"
check "the first VM 777 is a full clone (its disk is its own)" \
  bash -c "[[ '$full_disk' == local-lvm:vm-777-disk-* ]]"
destroyed_before=$(destroyed_777)
fixed_vmid false >main.tf
expect_exit 0 "replacing it keeps vmid 777" tf apply -auto-approve
check "terraform replaced it (full_clone forces replacement)" \
  output_has "proxmox_k8s_node.fixed must be replaced"
check "one destroyed, one created" output_has "Resources: 1 added, 0 changed, 1 destroyed."
check "pvesim destroyed the old VM 777" test "$(destroyed_777)" = $((destroyed_before + 1))
linked_disk=$(disk_of 777)
echo "# replacement 777 disk $linked_disk"
check "the replacement is a linked clone of the template's base volume" \
  bash -c "[[ '$linked_disk' == '$base'/vm-777-disk-* ]]"
check "and it has vmid 777 in the state" test "$(state_ids)" = "pve2/777"
expect_exit 0 "then the plan is empty" tf plan -detailed-exitcode
expect_exit 0 "destroy (fixed vmid)" tf destroy -auto-approve

# --- bad inputs ----------------------------------------------------------------------
cd "$(new_workdir bad)"
bad_node() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "bad" {
  name        = "bad"
  target_node = "pve1"
  template    = "$1"
  ip {
    address = "$2"
  }
  network {}
}
CFG
}
bad_node no-such-template dhcp >main.tf
expect_exit 0 "init (bad inputs)" tf init
expect_exit 1 "an unknown template fails" tf apply -auto-approve
check "the error names the template" output_has 'no template "no-such-template"'
check "an unknown template is refused at plan: no create starts" bash -c "! grep -qF Creating... $TEST_ROOT/last.out"
bad_node ubuntu-2204-template dhcp >main.tf
sed -i 's/  network {}/  network {}\n  disk {\n    size = "1G"\n  }/' main.tf
expect_exit 1 "a disk smaller than the template's is refused" tf apply -auto-approve
check "the error names the template's size" output_has "smaller than the disk of template"
check "a too-small disk is refused at plan: no create starts" bash -c "! grep -qF Creating... $TEST_ROOT/last.out"
bad_node ubuntu-2204-template dhcp >main.tf
sed -i 's/  network {}/  network {}\n  vmid_range = [900, 100]/' main.tf
expect_exit 1 "an inverted vmid_range fails validation" tf validate
check "the error names vmid_range" output_has "Invalid vmid_range"
bad_node ubuntu-2204-template 192.168.100.300/24 >main.tf
expect_exit 1 "a bad address fails validation" tf validate
check "the error names ip.address" output_has "Invalid address"
bad_node ubuntu-2204-template dhcp >main.tf
sed -i "s/$PVE_TOKEN_SECRET/11111111-2222-3333-4444-555555555555/" main.tf
expect_exit 1 "a wrong token secret fails" tf apply -auto-approve
check "the error says authentication failed" output_has "Authentication failed!"
bad_node ubuntu-2204-template dhcp >main.tf
sed -i "s/$PVE_FP/00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF/" main.tf
expect_exit 1 "a wrong fingerprint is refused" tf apply -auto-approve
check "the error shows the pinned fingerprint" output_has "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11"
bad_node ubuntu-2204-template dhcp >main.tf
sed -i "s#$PVE_URL#https://127.0.0.1:9#" main.tf
expect_exit 1 "an unreachable endpoint fails" tf apply -auto-approve
check "the error says unreachable" output_has "reachable?"

# A privilege-separated token that may only look: the missing privilege is named.
main_url=$PVE_URL main_fp=$PVE_FP
PVE_TOKEN_FLAGS=,privsep=1 pvesim_start "$PVESIM" readonly --acl "/:PVEAuditor:$PVE_TOKEN_ID"
bad_node ubuntu-2204-template dhcp >main.tf
expect_exit 1 "a token without VM.Clone fails" tf apply -auto-approve
check "the error names the missing privilege" output_has "VM.Clone"
kill "$PVESIM_PID"
wait "$PVESIM_PID" 2>/dev/null || true

# --- a create that fails after the clone: tainted in the state, no orphan ------------
# pvesim refuses every start: the clone and its configuration succeed, the
# apply fails, and the VM made so far must be in the state (tainted), not
# left in Proxmox unknown to Terraform.
applyfail_node() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "f" {
  name        = "applyfail"
  target_node = "pve1"
  template    = "ubuntu-2204-template"
  network {}
  ip {
    address = "10.41.0.7/16"
  }
}
CFG
}
pvesim_start "$PVESIM" applyfail --fault 'http-500:POST:/status/start:1:start refused by the test'
cd "$(new_workdir applyfail)"
applyfail_node >main.tf
expect_exit 0 "init (apply-stage failure)" tf init
expect_exit 1 "an apply whose VM cannot start fails" tf apply -auto-approve
check "the error names the refused start" output_has "start refused by the test"
check "the apply got past the clone (configure/start failed)" output_has "Configuring VM"
failed=$(state_ids)
made=$(vms_named applyfail)
echo "# after the failed apply: state [$failed], pvesim [$made]"
check "the VM made is in the state, tainted (no orphan)" test "$failed" = "${made% } (tainted)"
check "pvesim holds only that one VM of the name" test "$(wc -w <<<"$made")" = 1
kill "$PVESIM_PID"
wait "$PVESIM_PID" 2>/dev/null || true
pvesim_start "$PVESIM" applyfail # the same data, starts allowed again
applyfail_node >main.tf
expect_exit 0 "the next apply converges" tf apply -auto-approve
check "it replaced the tainted VM" output_has "Resources: 1 added, 0 changed, 1 destroyed."
now=$(vms_named applyfail)
echo "# after the next apply: state [$(state_ids)], pvesim [$now]"
check "exactly one VM of that name, the one in the state" test "$(state_ids)" = "${now% }"
expect_exit 0 "then the plan is empty" tf plan -detailed-exitcode
expect_exit 0 "destroy (apply-stage failure)" tf destroy -auto-approve
check "no VM of that name is left" test -z "$(vms_named applyfail)"
kill "$PVESIM_PID"
wait "$PVESIM_PID" 2>/dev/null || true
PVE_URL=$main_url PVE_FP=$main_fp

# --- destroy leaves only the templates --------------------------------------------------
cd "$TEST_ROOT/lab"
expect_exit 0 "destroy the lab" tf destroy -auto-approve
check "pvesim holds no VM but the templates" test "$(vm_count)" = 0

# --- ten nodes at parallelism 10 with 20% lock timeouts on clone --------------------------
pvesim_start "$PVESIM" faults --fault lock-timeout:clone:0.2 --seed 7
cd "$(new_workdir parallel)"
provider_block >main.tf
cat >>main.tf <<CFG
resource "proxmox_k8s_node" "n" {
  count        = 10
  name         = "node\${count.index}"
  vmid_range   = [5000, 5999]
  target_nodes = ["pve1", "pve2", "pve3"]
  template     = "ubuntu-2204-template"
  network {}
  ip {
    address = "10.10.0.\${count.index + 10}/24"
  }
}
output "ids" { value = proxmox_k8s_node.n[*].vmid }
CFG
expect_exit 0 "init (parallel)" tf init
export TF_LOG=info TF_LOG_PATH="$PWD/apply.log"
expect_exit 0 "ten nodes at parallelism 10 despite lock timeouts" tf apply -auto-approve -parallelism=10
unset TF_LOG TF_LOG_PATH
check "ten distinct VM ids within vmid_range" python3 -c "import json,subprocess; v=json.loads(subprocess.check_output(['terraform','output','-json','ids'])); assert len(set(v))==10 and all(5000 <= x <= 5999 for x in v), v"
check "lock timeouts were injected and retried" grep -q "clone hit a lock timeout; retrying" apply.log
expect_exit 0 "plan after the parallel create is empty" tf plan -detailed-exitcode
check "exactly ten VMs in pvesim" test "$(vm_count)" = 10
per_node=$(for node in pve1 pve2 pve3; do pve GET "/nodes/$node/qemu" | python3 -c "import json,sys; print(sum(1 for v in json.load(sys.stdin)['data'] if not v.get('template')))"; done | sort -n | tr '\n' ' ')
check "parallel placement spreads the nodes over the hosts ($per_node)" test "$per_node" = "3 3 4 "
expect_exit 0 "destroy the ten" tf destroy -auto-approve -parallelism=10
check "no stray VMs left" test "$(vm_count)" = 0

finish
