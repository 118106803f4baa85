#!/usr/bin/env bash
# No secret of any kind in TF_LOG=trace: plans, applies, an update and a
# destroy of proxmox_k8s_node with proxmox_k8s_cluster and the inventory
# (with its secrets), once with an API token and once with a password
# (ticket) login. Each secret is searched on its own, in full and by its
# longest alphanumeric run (so an escaped or encoded copy is found too): the
# API token secret, the password, every ticket and CSRF token pvesim issued
# (recomputed from pvesim's ticket key and its log of issue times), the
# bootstrap token, the certificate key and the CA key. The scan must have
# seen the provider's own log lines.
# Usage: claims_secrets_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
PASSWORD='Tf-Secret-Pass-5e2b8d71'

pvesim_start "$PVESIM" secrets --seed 37 --log-requests --user "tf@pve:$PASSWORD"

# config AUTH MEMORY: the lab with the given provider credentials.
config() {
  if [[ $1 == token ]]; then provider_block; else provider_block password tf@pve "$PASSWORD"; fi
  cat <<CFG
resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab$1"
  control_plane_endpoint = "10.0.0.1:6443"
}
data "proxmox_k8s_inventory" "lab" {
  cluster         = proxmox_k8s_cluster.lab
  nodes           = proxmox_k8s_node.n
  include_secrets = true
}
output "inventory" {
  value     = data.proxmox_k8s_inventory.lab.sensitive_yaml
  sensitive = true
}
CFG
  spread_nodes 2 "$1" dhcp "  cluster = proxmox_k8s_cluster.lab.id
  role    = count.index == 0 ? \"control-plane\" : \"worker\"
  memory  = $2"
}

# traced NAME COMMAND...: the command under TF_LOG=trace into NAME.log.
traced() {
  local name=$1
  shift
  TF_LOG=trace TF_LOG_PATH="$PWD/$name.log" "$@"
}

for auth in token password; do
  cd "$(new_workdir "$auth")"
  config "$auth" 2048 >main.tf
  expect_exit 0 "$auth: init" tf init
  expect_exit 0 "$auth: plan (traced)" traced plan tf plan -out=create.plan
  expect_exit 0 "$auth: apply (traced)" traced apply tf apply create.plan
  expect_exit 0 "$auth: empty plan (traced)" traced plan2 tf plan -detailed-exitcode
  config "$auth" 3072 >main.tf
  expect_exit 0 "$auth: update (traced)" traced update tf apply -auto-approve
  terraform show -json >state.json
  expect_exit 0 "$auth: destroy (traced)" traced destroy tf destroy -auto-approve
  cat plan.log apply.log plan2.log update.log destroy.log >trace.log
done

# The secrets, one per line: "NAME<TAB>VALUE".
secrets() {
  printf 'api token secret\t%s\n' "$PVE_TOKEN_SECRET"
  printf 'password\t%s\n' "$PASSWORD"
  python3 - "$PVE_DATA" <<'PY'
import base64, hashlib, hmac, json, sys
data = sys.argv[1]
key = open(data + "/ticket.key", "rb").read()
sign = lambda s: base64.b64encode(hmac.new(key, s.encode(), hashlib.sha256).digest()).decode().rstrip("=")
for line in open(data + "/log"):
    r = json.loads(line) if line.startswith("{") else {}
    if r.get("@message") == "ticket issued":
        u, t = r["user"], r["time"]
        print("ticket %s\tPVE:%s:%s::%s" % (t, u, t, sign("PVE:%s:%s" % (u, t))))
        print("CSRF token %s\t%s:%s" % (t, t, sign("CSRF:%s:%s" % (t, u))))
PY
  for auth in token password; do
    python3 - "$TEST_ROOT/$auth/state.json" "$auth" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["values"]["root_module"]["resources"]
c = [r for r in rs if r["type"] == "proxmox_k8s_cluster"][0]["values"]
print("%s bootstrap token\t%s" % (sys.argv[2], c["bootstrap_token"]))
print("%s certificate key\t%s" % (sys.argv[2], c["certificate_key"]))
body = [l for l in c["ca_key_pem"].splitlines() if l and not l.startswith("-----")]
for i, l in enumerate(body):
    print("%s CA key line %d\t%s" % (sys.argv[2], i + 1, l))
PY
  done
}
# needles VALUE: the value and its longest run of letters and digits.
needles() {
  python3 - "$1" <<'PY'
import re, sys
v = sys.argv[1]
print(v)
runs = sorted(re.findall(r"[A-Za-z0-9]+", v), key=len)
if runs and len(runs[-1]) >= 12 and runs[-1] != v:
    print(runs[-1])
PY
}

cd "$TEST_ROOT"
secrets >secrets.tsv
all_logs=(token/trace.log password/trace.log)
tickets=0
while IFS=$'\t' read -r name value; do
  [[ $name == ticket* ]] && tickets=$((tickets + 1))
  if [[ ${#value} -lt 12 ]]; then
    fail "secret '$name' is too short to search for (${#value} chars)"
    continue
  fi
  hits=0
  while read -r needle; do
    hits=$((hits + $(cat "${all_logs[@]}" | grep -cF -- "$needle" || true)))
  done < <(needles "$value")
  check "no $name in the trace logs ($hits lines)" test "$hits" = 0
done <secrets.tsv
echo "# tickets issued and searched for: $tickets"
check "the password run logged in (tickets were issued)" test "$tickets" -ge 2

first=$(grep -m1 '^ticket' secrets.tsv | cut -f2)
check "the recomputed first ticket is accepted by pvesim (the search used real tickets)" \
  bash -c '[[ $(curl -sk -o /dev/null -w "%{http_code}" -b "PVEAuthCookie=$1" "$2/api2/json/version") == 200 ]]' \
  _ "$first" "$PVE_URL"
for auth in token password; do
  lines=$(grep -cE 'provider\.terraform-provider-proxmox_v[0-9.]+: .*@module=pvek8s' "$auth/trace.log" || true)
  echo "# $auth: provider log lines in the trace: $lines"
  check "$auth: the trace holds the provider's own log lines" test "$lines" -ge 5
  check "$auth: the trace saw the node resources" grep -q 'proxmox_k8s_node.n\[1\]' "$auth/trace.log"
done
finish
