#!/usr/bin/env bash
# ci_review_locally: examples/ci/review-locally.sh, end to end, against pvesim.
#   1. the lab (a copy of examples/lab): fmt, validate, syntax check of
#      site.yml and cluster.yml, terraform test (lab.tftest.hcl), plan, review
#      of three added nodes, with a pvesim the script starts itself;
#   2. --base: a five-node configuration applied to a pvesim this test starts,
#      then a change that adds one node, removes one, replaces two (target_node,
#      and nameservers under on_cloudinit_change = "replace"), reboots two
#      (memory, nameservers) and rotates the bootstrap token; the review must
#      say each, and no secret (API token secret, bootstrap token, CA key,
#      certificate key) may appear in it or in the script's output;
#   3. refusals: an unformatted file fails at fmt, --test needs a simulator.
#
# usage: review_locally_test.sh PROVIDER PVESIM COLLECTION_TARBALL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../acceptance-tests/terraform/lib.sh"
provider=$(realpath "$1") pvesim_bin=$(realpath "$2") tarball=$(realpath "$3")
tf_setup "$provider"
script=$here/review-locally.sh

export ANSIBLE_HOME=$TEST_ROOT/ansible-home ANSIBLE_LOCAL_TEMP=$TEST_ROOT/ansible-home/tmp
ansible-galaxy collection install -p "$TEST_ROOT/collections" "$tarball" >/dev/null 2>&1

# has FILE TEXT...: FILE contains every TEXT (fixed strings).
has() {
  local file=$1 t
  shift
  for t in "$@"; do
    grep -qF -- "$t" "$file" || { echo "    missing: $t" >&2; return 1; }
  done
}

# in_section TITLE TEXT...: the review's ### section starting with TITLE
# contains every TEXT.
in_section() {
  local title=$1
  shift
  awk -v t="### $title" 'index($0, t) == 1 {on = 1; next} /^### / {on = 0} on' \
    "$review" >"$TEST_ROOT/section"
  has "$TEST_ROOT/section" "$@"
}

echo "# 1. the lab, with the script's own pvesim"
cp -r "$here/../lab" "$TEST_ROOT/lab"
expect_exit 0 "lab: review-locally.sh --pvesim --test passes" \
  "$script" --pvesim "$pvesim_bin" --test --collections "$TEST_ROOT/collections" \
  --work "$TEST_ROOT/w-lab" "$TEST_ROOT/lab"
cp "$TEST_ROOT/last.out" "$TEST_ROOT/lab.out"
check "lab: site.yml and cluster.yml syntax-checked" \
  has "$TEST_ROOT/lab.out" "ansible-playbook --syntax-check: certs.yml cluster.yml remove-node.yml site.yml upgrade.yml"
check "lab: terraform test ran lab.tftest.hcl" has "$TEST_ROOT/w-lab/test.log" \
  'run "apply_the_lab"... pass' "Success! 3 passed, 0 failed."
check "lab: the review adds three nodes and says how to join them" \
  has "$TEST_ROOT/w-lab/review.md" "**Nodes:** 3 added, 0 removed, 0 replaced, 0 rebooted" \
  "| \`k8spps1\` | control-plane | pve1 | 192.168.100.171 |" \
  "site.yml cluster.yml --limit k8spps1,k8spps2,k8spps3"
check "lab: the last line is the PASS line" \
  bash -c "tail -n 1 '$TEST_ROOT/lab.out' | grep -q '^review-locally: PASS (Nodes: 3 added'"

echo "# 2. a change that adds, removes, replaces and reboots nodes"
pvesim_start "$pvesim_bin" review
export PROXMOX_VE_ENDPOINT=$PVE_URL PROXMOX_VE_API_TOKEN_ID=$PVE_TOKEN_ID
export PROXMOX_VE_API_TOKEN_SECRET=$PVE_TOKEN_SECRET PROXMOX_VE_TLS_FINGERPRINT=$PVE_FP

# config DIR TTL NODES: a cluster and one proxmox_k8s_node per line of NODES
# ("name host role memory nameserver policy last-octet").
config() {
  mkdir -p "$1"
  {
    printf 'terraform {\n  required_providers {\n'
    printf '    proxmox = { source = "gcid/proxmox", version = "%s" }\n  }\n}\n' "$TF_PROVIDER_VERSION"
    printf 'provider "proxmox" {}\n\n'
    printf 'resource "proxmox_k8s_cluster" "lab" {\n  name                   = "lab"\n'
    printf '  control_plane_endpoint = "10.9.0.11:6443"\n  token_ttl              = "%s"\n}\n\n' "$2"
    printf 'locals {\n  nodes = {\n'
    local name host role mem dns policy ip
    while read -r name host role mem dns policy ip; do
      printf '    %s = { host = "%s", role = "%s", memory = %s, dns = "%s", policy = "%s", ip = "10.9.0.%s/24" }\n' \
        "$name" "$host" "$role" "$mem" "$dns" "$policy" "$ip"
    done <<<"$3"
    printf '  }\n}\n\n'
    cat <<'CFG'
resource "proxmox_k8s_node" "k8s" {
  for_each            = local.nodes
  name                = each.key
  target_node         = each.value.host
  template            = "ubuntu-2204-template"
  role                = each.value.role
  cluster             = proxmox_k8s_cluster.lab.id
  memory              = each.value.memory
  nameservers         = [each.value.dns]
  on_cloudinit_change = each.value.policy
  network {}
  ip {
    address = each.value.ip
  }
}
CFG
  } >"$1/main.tf"
  terraform fmt "$1" >/dev/null
}
config "$TEST_ROOT/base" 24h "cp1 pve1 control-plane 2048 1.1.1.1 reboot 11
w1 pve2 worker 2048 1.1.1.1 reboot 12
w2 pve3 worker 2048 1.1.1.1 reboot 13
w3 pve1 worker 2048 1.1.1.1 replace 14
w5 pve2 worker 2048 1.1.1.1 reboot 16"
config "$TEST_ROOT/head" 48h "cp1 pve1 control-plane 4096 1.1.1.1 reboot 11
w1 pve3 worker 2048 1.1.1.1 reboot 12
w3 pve1 worker 2048 8.8.8.8 replace 14
w4 pve2 worker 2048 1.1.1.1 reboot 15
w5 pve2 worker 2048 8.8.8.8 reboot 16"
cp "$here/../lab/site.yml" "$here/../lab/cluster.yml" "$TEST_ROOT/head/"

expect_exit 0 "change: review-locally.sh --simulator --base passes" \
  "$script" --simulator --base "$TEST_ROOT/base" --collections "$TEST_ROOT/collections" \
  --work "$TEST_ROOT/w" "$TEST_ROOT/head"
cp "$TEST_ROOT/last.out" "$TEST_ROOT/change.out"
review=$TEST_ROOT/w/review.md
check "summary: 1 added, 1 removed, 1 replaced, 2 rebooted, token rotated" has "$review" \
  "**Nodes:** 1 added, 1 removed, 1 replaced, 2 rebooted; bootstrap token rotated."
check "added: w4 on pve2" in_section "Nodes added" "| \`w4\` | worker | pve2 | 10.9.0.15 |"
check "removed: w2, its for_each key gone" in_section "Nodes removed" \
  "| \`w2\` | worker | pve3 | 10.9.0.13 | its for_each key is gone |"
check "replaced, with Terraform's replace paths" in_section "Nodes replaced" \
  "| \`w3\` | worker | pve1 | 10.9.0.14 | \`nameservers\` [1.1.1.1] → [8.8.8.8] |"
check "rebooted: the attribute rule and the provider's warning agree" \
  in_section "Nodes rebooted" \
  "- \`cp1\` (control plane): hardware: \`memory\` 2048 → 4096; provider: CPU or memory of cp1" \
  "- \`w5\`: cloud-init: \`nameservers\` [1.1.1.1] → [8.8.8.8]; provider: Cloud-init settings of w5"
check "migrated: w1 moves in place" in_section "Nodes migrated" \
  "- \`w1\`: pve2 → pve3 (migrated in place"
check "token rotation" in_section "Cluster identity" \
  "Bootstrap token of \`lab\` is rotated (\`token_ttl\` 24h → 48h): new value (sensitive)"
check "before apply: drain the removed, replaced and rebooting nodes" \
  in_section "Before" "1. Drain \`w2\` (removed)" "kubectl delete node w2" \
  "Drain \`w3\` (replaced)" "Drain \`cp1\` (reboots)" "Drain \`w5\` (reboots)"
check "after apply: join the new nodes with site.yml and cluster.yml" \
  in_section "After" "ansible-playbook -i inventory.yml site.yml cluster.yml --limit w4,w3" \
  "kubectl uncordon cp1" "kubectl uncordon w5"

# The secrets the plan knows: the API token and the state's identity.
python3 - "$TEST_ROOT/w/head/terraform.tfstate" >"$TEST_ROOT/secrets" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["resources"]:
    if r["type"] == "proxmox_k8s_cluster":
        a = r["instances"][0]["attributes"]
        for k in ("bootstrap_token", "certificate_key"):
            print(a[k])
        print(a["bootstrap_token"].split(".")[1])  # the token's secret half alone
        for line in a["ca_key_pem"].splitlines():
            if "-----" not in line and len(line) >= 16:
                print(line)
PY
echo "$PVE_TOKEN_SECRET" >>"$TEST_ROOT/secrets"
check "the state holds the secrets the check looks for" test "$(wc -l <"$TEST_ROOT/secrets")" -ge 5
check "no secret in the review or the script's output" \
  bash -c "! grep -qFf '$TEST_ROOT/secrets' '$review' '$TEST_ROOT/change.out' '$TEST_ROOT/lab.out'"

echo "# 3. refusals"
printf 'variable "x" {\ndefault = 1\n}\n' >"$TEST_ROOT/head/unformatted.tf"
# Everything else in head/ passes (it would plan against the running pvesim).
expect_exit 1 "an unformatted file fails at fmt" \
  "$script" --collections "$TEST_ROOT/collections" --work "$TEST_ROOT/w3" "$TEST_ROOT/head"
check "the FAIL line names the step" output_has "review-locally: FAIL at fmt:"
expect_exit 2 "--test without a simulator is refused" "$script" --test "$TEST_ROOT/lab"
check "the refusal says why" output_has "--test and --base create VMs"
finish
