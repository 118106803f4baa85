#!/usr/bin/env bash
# Acceptance test of proxmox_k8s_cluster with the real terraform CLI:
# init from a filesystem mirror, validation errors naming the attribute,
# plan/apply/empty plan, CA hash against openssl, secrets absent from
# TF_LOG=trace, token-expiry rotation, in-place update, import refusal,
# destroy.
# Usage: cluster_test.sh PATH_TO_PROVIDER_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$1"

FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
API_TOKEN_SECRET=5e1f3c7a-92d4-4b6e-8f0a-c3d2b1a09e87

write_config() {
  local endpoint=${1:-192.168.100.171:6443}
  cat >main.tf <<CFG
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$TF_PROVIDER_VERSION" }
  }
}
# The cluster resources never call Proxmox VE; the token is here so that the
# secret scan below covers it too.
provider "proxmox" {
  endpoint         = "https://127.0.0.1:9"
  api_token_id     = "terraform@pam!tf"
  api_token_secret = "$API_TOKEN_SECRET"
}

resource "proxmox_k8s_cluster" "lab" {
  name                   = "lab"
  control_plane_endpoint = "$endpoint"
  pod_subnet             = "172.16.0.0/16"
  service_subnet         = "172.17.0.0/18"
}

resource "proxmox_k8s_cluster" "rsa" {
  name                   = "rsa"
  control_plane_endpoint = "10.0.0.1:6443"
  ca_algorithm           = "rsa-2048"
  kubernetes_version     = "v1.31.2"
}

output "ecdsa_pem" { value = proxmox_k8s_cluster.lab.ca_cert_pem }
output "ecdsa_hash" { value = proxmox_k8s_cluster.lab.ca_cert_hash }
output "rsa_pem" { value = proxmox_k8s_cluster.rsa.ca_cert_pem }
output "rsa_hash" { value = proxmox_k8s_cluster.rsa.ca_cert_hash }
CFG
}

openssl_hash() {
  openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex |
    sed 's/^.* /sha256:/'
}

# --- validation: every bad input names its attribute -------------------------
cd "$(new_workdir invalid)"
cat >main.tf <<CFG
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$TF_PROVIDER_VERSION" }
  }
}
CFG
bad_case() {
  local what=$1 attr=$2 body=$3
  cat >main.tf <<CFG
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$TF_PROVIDER_VERSION" }
  }
}
$body
CFG
  [[ -d .terraform ]] || tf init >/dev/null
  expect_exit 1 "validate rejects $what" tf validate
  if output_has "$attr"; then pass "$what names $attr"; else fail "$what names $attr"; fi
}
tf init >/dev/null
bad_case "an upper-case name" "Invalid value for name" \
  'resource "proxmox_k8s_cluster" "c" {
     name = "Lab"
     control_plane_endpoint = "10.0.0.1:6443"
   }'
bad_case "an endpoint without port" "Invalid value for control_plane_endpoint" \
  'resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1"
   }'
bad_case "overlapping subnets" "service_subnet" \
  'resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1:6443"
     pod_subnet = "10.0.0.0/8"
     service_subnet = "10.96.0.0/12"
   }'
bad_case "a bad CIDR" "Invalid CIDR for pod_subnet" \
  'resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1:6443"
     pod_subnet = "10.0.0.0/40"
   }'
bad_case "a bad token_ttl" "Invalid duration for token_ttl" \
  'resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1:6443"
     token_ttl = "1 day"
   }'
bad_case "a plain-http provider endpoint" "Invalid Proxmox VE endpoint" \
  'provider "proxmox" { endpoint = "http://pve1:8006" }
   resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1:6443"
   }'
bad_case "a malformed token id" "Invalid value for api_token_id" \
  'provider "proxmox" {
     api_token_id = "terraform"
     api_token_secret = "0b0a8f2e-4c7e-4bd1-9a55-6a5d7e6b1c2f"
   }
   resource "proxmox_k8s_cluster" "c" {
     name = "lab"
     control_plane_endpoint = "10.0.0.1:6443"
   }'

# --- lifecycle ------------------------------------------------------------------
cd "$(new_workdir lab)"
write_config
expect_exit 0 "init installs the provider from the mirror" tf init
check "init found gcid/proxmox" output_has "Installed gcid/proxmox v$TF_PROVIDER_VERSION"
expect_exit 0 "validate accepts the lab" tf validate

start=$(date +%s%N)
expect_exit 0 "plan (timed, untraced)" tf plan -out=timing.plan
plan_ms=$((($(date +%s%N) - start) / 1000000))
echo "# terraform plan of 2 resources took ${plan_ms} ms"

# The plan generates the keys and the apply stores them: trace both.
export TF_LOG=trace TF_LOG_PATH="$PWD/trace.log"
expect_exit 0 "plan" tf plan -out=tfplan
check "plan creates two clusters" output_has "Plan: 2 to add, 0 to change, 0 to destroy."
check "plan masks the CA key" output_has "ca_key_pem             = (sensitive value)"
expect_exit 0 "apply" tf apply tfplan
unset TF_LOG TF_LOG_PATH
check "no plugin process needed the 2 s kill" bash -c '! grep -q "failed to exit gracefully" trace.log'
check "plugin processes exited cleanly" grep -q "plugin exited" trace.log

expect_exit 0 "second plan is empty" tf plan -detailed-exitcode
# Terraform 1.11 marks any refresh-only plan with root outputs "applyable"
# (exit 2 under -detailed-exitcode), so look at the drift itself.
expect_exit 0 "refresh-only plan" tf plan -refresh-only -out=refresh.plan
check "refresh finds no drift" no_drift refresh.plan

# Secrets never reach the log: every secret both clusters hold, and the API
# token secret, each looked for on its own in the whole TF_LOG=trace of the
# plan and the apply.
terraform show -json >state.json
python3 - state.json "$API_TOKEN_SECRET" >secrets.txt <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["values"]["root_module"]["resources"]
print("api_token_secret", sys.argv[2])
for r in res:
    v, n = r["values"], r["name"]
    token_id, token_secret = v["bootstrap_token"].split(".")
    print(f"{n}.bootstrap_token", v["bootstrap_token"])
    print(f"{n}.bootstrap_token_secret", token_secret)
    print(f"{n}.certificate_key", v["certificate_key"])
    body = [l for l in v["ca_key_pem"].splitlines() if l and not l.startswith("-----")]
    for i, line in enumerate(body):  # every line of the key's base64 body
        print(f"{n}.ca_key_pem_line{i + 1}", line)
PY
kinds=$(cut -d' ' -f1 secrets.txt | sed 's/_line[0-9]*$//' | sort -u)
check "the scan has every secret kind of both clusters" test "$(wc -l <<<"$kinds")" = 9
for kind in $kinds; do
  check "no $kind in the trace log" python3 -c '
import re, sys
kind, log = sys.argv[1], open("trace.log").read()
found = [n for n, v in (l.split(" ", 1) for l in open("secrets.txt").read().splitlines())
         if re.sub(r"_line[0-9]+$", "", n) == kind and v in log]
sys.exit(f"# found in trace.log: {found}" if found else 0)' "$kind"
done
# Lines only the provider writes: its own log records, which Terraform
# re-emits under the plugin's name (fields in any order), for the calls that
# make and store the keys.
provider_rpc() {
  grep -E '^[^ ]+ \[TRACE\] +provider\.terraform-provider-proxmox_v[^:]*: rpc done: ' trace.log |
    grep -F ' @module=pvek8s ' | grep -qF " rpc=$1 "
}
check "the trace log holds the provider's own lines (the scan saw them)" \
  bash -c "$(declare -f provider_rpc); provider_rpc PlanResourceChange && provider_rpc ApplyResourceChange"

# kubeadm's CA hash, for ECDSA and RSA, against the openssl command line.
for kind in ecdsa rsa; do
  want=$(terraform output -raw ${kind}_pem | openssl_hash)
  got=$(terraform output -raw ${kind}_hash)
  check "$kind ca_cert_hash matches openssl ($got)" test "$want" = "$got"
done

# An expired token is rotated in place, and only the token material changes.
old_token=$(python3 -c "import json; print([x for x in json.load(open('state.json'))['values']['root_module']['resources'] if x['name']=='lab'][0]['values']['bootstrap_token'])")
# libfaketime shifts only the provider's clock (terraform is a static Go
# binary). Plugin TLS is off meanwhile: the provider's certificate would be
# dated two days into Terraform's future.
export LD_PRELOAD=$FAKETIME_LIB FAKETIME="+2d" FAKETIME_DONT_RESET=1 TF_DISABLE_PLUGIN_TLS=1
expect_exit 2 "two days later the plan rotates the tokens" tf plan -detailed-exitcode
check "rotation is an in-place update" output_has "Plan: 0 to add, 2 to change, 0 to destroy."
check "the plan says why" output_has "Bootstrap token expired"
check "the CA is not touched" bash -c '! grep -q "ca_cert_pem" '"$TEST_ROOT/last.out"
expect_exit 0 "apply the rotation" tf apply -auto-approve
expect_exit 0 "plan after rotation is empty" tf plan -detailed-exitcode
unset LD_PRELOAD FAKETIME FAKETIME_DONT_RESET TF_DISABLE_PLUGIN_TLS
terraform show -json >state2.json
new_token=$(python3 -c "import json; print([x for x in json.load(open('state2.json'))['values']['root_module']['resources'] if x['name']=='lab'][0]['values']['bootstrap_token'])")
check "the token changed" test "$old_token" != "$new_token"

# An endpoint change updates in place and keeps the CA.
old_hash=$(terraform output -raw ecdsa_hash)
write_config "k8s-api.lab.example:6443"
expect_exit 2 "endpoint change plans an update" tf plan -detailed-exitcode
check "endpoint change is in place" output_has "Plan: 0 to add, 1 to change, 0 to destroy."
expect_exit 0 "apply endpoint change" tf apply -auto-approve
check "CA kept across the update" test "$old_hash" = "$(terraform output -raw ecdsa_hash)"
expect_exit 0 "plan after update is empty" tf plan -detailed-exitcode

# Import is refused with the reason.
cat >import.tf <<CFG
resource "proxmox_k8s_cluster" "imported" {
  name                   = "imported"
  control_plane_endpoint = "10.0.0.1:6443"
}
CFG
expect_exit 1 "import is refused" tf import proxmox_k8s_cluster.imported lab
check "import explains why" output_has "cannot be imported"
rm import.tf

expect_exit 0 "destroy" tf destroy -auto-approve
check "destroy removed both" output_has "Destroy complete! Resources: 2 destroyed."

finish
