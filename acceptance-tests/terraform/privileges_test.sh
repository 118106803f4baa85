#!/usr/bin/env bash
# docs/proxmox-privileges.md, as written: its pveum commands for one Proxmox
# VE release become pvesim's --role/--token/--acl flags, and pvesim runs as
# that release (--pve-version) with a token holding exactly that role. With it
# the lab's Terraform part (examples/lab) applies, plans empty and destroys, and
# a DHCP node (the guest-agent privilege) applies. Then each privilege of the
# role is dropped in turn (DROP=all) or only the release's agent privilege
# (DROP=agent): the plan must fail, naming it.
# Usage: privileges_test.sh PROVIDER_BINARY PVESIM_BINARY VERSION [all|agent]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
VERSION=$3
DROP=${4:-all}
DOC=$(cd "$TESTS_DIR/../../docs" && pwd)/proxmox-privileges.md
LAB=$(cd "$TESTS_DIR/../../examples/lab" && pwd)
case $VERSION in
  9.*) SECTION=9.x AGENT_PRIV=VM.GuestAgent.Audit ;;
  8.*) SECTION=8.4 AGENT_PRIV=VM.Monitor ;;
  *) echo "no docs section for Proxmox VE $VERSION" >&2; exit 2 ;;
esac
DOC_SECRET=5d1c9e7a-2b4f-4e6a-8c3d-1f0e9b8a7c6d

# doc_pvesim WHAT [DROP_PRIV]: from the "## Proxmox VE $SECTION" block of the
# page, WHAT=args prints pvesim's flags (one a line; the role without
# DROP_PRIV), WHAT=privs the role's privileges, WHAT=token the token id. A
# command the test does not know fails it, so the page cannot drift.
doc_pvesim() {
  python3 - "$DOC" "$SECTION" "$DOC_SECRET" "$1" "${2:-}" <<'PY'
import re, shlex, sys
doc, section, secret, what, drop = sys.argv[1:]
text = open(doc).read()
m = re.search(r"^## Proxmox VE " + re.escape(section) + r"\n(.*?)(?=^## |\Z)", text, re.S | re.M)
block = re.search(r"```sh\n(.*?)```", m.group(1), re.S).group(1) if m else sys.exit("no section")
args, privs, token = [], [], None
for line in block.strip().splitlines():
    a = shlex.split(line)
    if a[:3] == ["pveum", "role", "add"] and a[4] == "-privs":
        privs = a[5].split()
        args += ["--role", a[3] + ":" + ",".join(p for p in privs if p != drop)]
    elif a[:3] == ["pveum", "user", "add"] and len(a) == 4:
        pass  # pvesim knows a user by its tokens and ACLs
    elif a[:4] == ["pveum", "user", "token", "add"] and a[6] == "--privsep":
        token = a[4] + "!" + a[5]
        args += ["--token", f"{token}={secret},privsep={a[7]}"]
    elif a[:3] == ["pveum", "acl", "modify"] and a[4] == "--roles" and a[6] in ("--users", "--tokens"):
        args += ["--acl", f"{a[3]}:{a[5]}:{a[7]}"]
    else:
        sys.exit("unknown command in " + doc + ": " + line)
print("\n".join({"args": args, "privs": privs, "token": [token]}[what]))
PY
}

# start_sim NAME [DROP_PRIV]: pvesim as $VERSION with the page's role.
start_sim() {
  local args
  mapfile -t args < <(doc_pvesim args "${2:-}")
  ((${#args[@]} > 0)) || return 1
  pvesim_start "$PVESIM" "$1" --pve-version "$VERSION" "${args[@]}"
  export PROXMOX_VE_ENDPOINT=$PVE_URL PROXMOX_VE_TLS_FINGERPRINT=$PVE_FP
}

TOKEN=$(doc_pvesim token)
mapfile -t PRIVS < <(doc_pvesim privs)
echo "# Proxmox VE $VERSION: token $TOKEN with ${#PRIVS[@]} privileges: ${PRIVS[*]}"
check "the page's role names the release's agent privilege" \
  grep -qx -- "$AGENT_PRIV" <(printf '%s\n' "${PRIVS[@]}")
export PROXMOX_VE_API_TOKEN_ID=$TOKEN PROXMOX_VE_API_TOKEN_SECRET=$DOC_SECRET

start_sim lab
check "pvesim reports $VERSION" \
  grep -q "\"version\":\"$VERSION\"" <(pve GET /version)
LABDIR=$(new_workdir lab)
cp "$LAB"/*.tf "$LABDIR/"
cd "$LABDIR"
expect_exit 0 "init the lab" tf init
expect_exit 0 "the lab applies with exactly the page's role" tf apply -auto-approve
expect_exit 0 "the next plan is empty" tf plan -detailed-exitcode
expect_exit 0 "the lab destroys" tf destroy -auto-approve
# No VM but the templates (whose presence shows the call worked);
# /cluster/resources lags the nodes by a few seconds, as in Proxmox.
no_vms() {
  pve GET "/cluster/resources?type=vm" | python3 -c '
import json, sys
vms = json.load(sys.stdin)["data"]
sys.exit(0 if vms and all(v.get("template") for v in vms) else 1)'
}
check "no VM is left" wait_until 30 "the lab's VMs gone from /cluster/resources" no_vms

# A node whose address comes from the guest agent.
DHCP=$(new_workdir dhcp)
cd "$DHCP"
cat >main.tf <<CFG
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$TF_PROVIDER_VERSION" }
  }
}
provider "proxmox" {}
$(spread_nodes 1 privdhcp dhcp '  disk {
    size    = "20G"
    storage = "local-lvm"
  }')
output "address" { value = proxmox_k8s_node.n[0].ipv4_address }
CFG
expect_exit 0 "init the DHCP node" tf init
expect_exit 0 "a DHCP node applies: the role reads the guest agent" tf apply -auto-approve
check "it got its address from the agent" \
  grep -qE '^"?[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"?$' <(terraform output -no-color address)
expect_exit 0 "the DHCP node destroys" tf destroy -auto-approve
pvesim_stop_all

# Each privilege dropped: the plan of the DHCP node fails naming it (without
# VM.Audit the template is invisible, as in Proxmox, so that plan fails on it).
drops=("${PRIVS[@]}")
[[ $DROP == agent ]] && drops=("$AGENT_PRIV")
for priv in "${drops[@]}"; do
  start_sim "drop-$priv" "$priv"
  expect_exit 1 "without $priv the plan fails" tf plan
  want=$priv
  [[ $priv == VM.Audit ]] && want="Template not found"
  check "  and says $want" output_has "$want"
  pvesim_stop_all
done

# Without the agent privilege a node with a static address still applies (the
# privilege is for DHCP nodes only): the address is recorded unconfirmed,
# with a warning, instead of asking the agent until wait_for_ip runs out.
start_sim no-agent "$AGENT_PRIV"
STATIC=$(new_workdir static)
cd "$STATIC"
sed -n '/^terraform {/,/^provider "proxmox" {}/p' "$DHCP/main.tf" >main.tf
spread_nodes 1 privstatic '10.40.0.${count.index + 10}/24' '  wait_for_ip {
    timeout = "60s"
  }' >>main.tf
expect_exit 0 "init the static node" tf init
expect_exit 0 "without $AGENT_PRIV a static node applies" tf apply -auto-approve
check "  warning that the agent did not confirm its address" \
  output_has "Address not confirmed by the guest agent"
expect_exit 0 "the static node destroys" tf destroy -auto-approve
pvesim_stop_all

echo "# $PASSES passed, $FAILURES failed"
((FAILURES == 0))
