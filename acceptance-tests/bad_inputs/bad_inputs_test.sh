#!/usr/bin/env bash
# The bad-input table (docs/bad-inputs.md) as a test: every case of cases.toml
# against the built provider, pvesim and the module binaries.
# Usage: bad_inputs_test.sh PROVIDER PVESIM KERNEL_TUNING KUBEADM_INIT KUBEADM_JOIN [--only IDS]
here=$(dirname "$(realpath "$0")")
source "$here/../terraform/lib.sh"
provider=$(realpath "$1") pvesim=$(realpath "$2")
kernel_tuning=$3 kubeadm_init=$4 kubeadm_join=$5
shift 5

# The committed page is what the case file makes.
[[ -n ${BAD_INPUTS_DRAFT:-} ]] || python3 "$here/bad_inputs.py" doc --check || exit 1

tf_setup "$provider"

# An administrator's token on every simulator, for looking at what is left.
CHECK_TOKEN='root@pam!check=6d1c0f4e-3b2a-4f5e-8c7d-9a0b1c2d3e4f'
sims='{}'
add_sim() {  # add_sim NAME TOKEN_ID TOKEN_SECRET: records the last started simulator
  sims=$(python3 -c '
import json, sys
sims = json.loads(sys.argv[1])
ready = json.load(open(sys.argv[3]))
sims[sys.argv[2]] = {"url": ready["url"], "fingerprint": ready["fingerprint_sha256"],
                     "ca_pem": ready["ca_pem"], "token_id": sys.argv[4],
                     "token_secret": sys.argv[5], "check_token": sys.argv[6]}
print(json.dumps(sims))' "$sims" "$1" "$PVE_DATA/ready.json" "$2" "$3" "$CHECK_TOKEN")
}

# main: the token may do everything.
pvesim_start "$pvesim" main --token "$CHECK_TOKEN"
add_sim main "$PVE_TOKEN_ID" "$PVE_TOKEN_SECRET"
# auditor: a privilege-separated token that may only look.
PVE_TOKEN_FLAGS=,privsep=1 pvesim_start "$pvesim" auditor --token "$CHECK_TOKEN" \
  --acl "/:PVEAuditor:$PVE_TOKEN_ID"
add_sim auditor "$PVE_TOKEN_ID" "$PVE_TOKEN_SECRET"
# pve91-no-agent, pve84-no-monitor: docs/proxmox-privileges.md's role without
# the release's guest-agent privilege.
k8s_privs=VM.Audit,VM.Clone,VM.Allocate,VM.Config.CPU,VM.Config.Memory,VM.Config.Disk
k8s_privs+=,VM.Config.Network,VM.Config.Cloudinit,VM.Config.Options,VM.PowerMgmt
k8s_privs+=,Datastore.AllocateSpace,SDN.Use
for v in pve91-no-agent:9.1.1 pve84-no-monitor:8.4.1; do
  PVE_TOKEN_FLAGS=,privsep=1 pvesim_start "$pvesim" "${v%%:*}" --pve-version "${v#*:}" \
    --token "$CHECK_TOKEN" --role "K8S:$k8s_privs" --acl "/:K8S:$PVE_TOKEN_ID"
  add_sim "${v%%:*}" "$PVE_TOKEN_ID" "$PVE_TOKEN_SECRET"
done
# expired: the token expired at the start of 2024.
PVE_TOKEN_FLAGS=,expire=1704067200 pvesim_start "$pvesim" expired --token "$CHECK_TOKEN"
add_sim expired "$PVE_TOKEN_ID" "$PVE_TOKEN_SECRET"

python3 "$here/bad_inputs.py" run --root "$TEST_ROOT" --sims "$sims" \
  --kernel_tuning "$kernel_tuning" --kubeadm_init "$kubeadm_init" \
  --kubeadm_join "$kubeadm_join" \
  $(for m in node_drain kubeadm_reset kubeadm_upgrade kubeadm_certs kubeadm_token; do
    # The other modules are built beside kubeadm_join (build/modules/NAME/NAME).
    echo "--$m $(dirname "$(dirname "$kubeadm_join")")/$m/$m"
  done) "$@"
