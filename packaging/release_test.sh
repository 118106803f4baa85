#!/usr/bin/env bash
# release: builds a release with packaging/make_release.sh from this build's
# files (a throwaway GPG key in a temporary GNUPGHOME signs it) and checks
# that what a registry, a mirror and an air-gapped lab get from it works:
#   - bad VERSIONs and a missing key are refused with a message naming them;
#   - the zip holds terraform-provider-proxmox_vVERSION (0755) and is the same
#     bytes when rebuilt; manifest.json; SHA256SUMS covers every file and its
#     signature verifies with the exported public key (and fails on a change);
#   - the collection tarball installs with ansible-galaxy, offline;
#   - the pvesim .deb carries /usr/bin/pvesim, which serves the API;
#   - Terraform installs the zip through the provider network mirror protocol
#     over HTTPS on loopback (throwaway CA, SSL_CERT_FILE): the lock file
#     records the package's h1: hash and keeps the signed zh: hash; a tampered
#     zip is refused, whether the mirror's index or the lock file catches it;
#   - through the provider registry protocol (a stand-in for the public
#     registry, serving the release files) Terraform verifies the signature,
#     records the zh: hash, and refuses a SHA256SUMS changed after signing;
#     `terraform providers mirror` copies the zip from there, and a
#     filesystem_mirror of that copy installs with no server at all.
#
# usage: release_test.sh CPACK_CONFIG PROVIDER_BINARY COLLECTION_TARBALL
set -euo pipefail
cpack_config=$1
provider=$(realpath "$2")
tarball=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
version=$("$provider" --version | awk '{print $2}')
name=terraform-provider-proxmox_$version

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-release-test-XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  gpgconf --kill gpg-agent 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
show() { if [[ -f $1 ]]; then sed 's/^/    /' "$1" | tail -30; else echo "    (no $1)"; fi; }
# wait_for FILE PATTERN SECONDS: polls until FILE has a line matching PATTERN.
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# why LOG: Terraform's installation error, on one line.
why() { tr -s ' \n│╷╵' ' ' <"$1" | grep -o 'Error while installing.\{0,150\}' | head -n 1; }

# --- the .debs and a throwaway signing key
if ! cpack --config "$cpack_config" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1; then
  not_ok "cpack"; show "$tmp/cpack.log"; exit 1
fi
mapfile -t debs < <(find "$tmp/pkg" -maxdepth 1 -name '*.deb' | sort)
export GNUPGHOME=$tmp/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key 'pvek8s release test <release-test@example.invalid>' rsa2048 sign 1d \
  >"$tmp/gpg-gen.log" 2>&1 || { not_ok "gpg key generation"; show "$tmp/gpg-gen.log"; exit 1; }
fpr=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
export PVEK8S_GPG_KEY_ID=$fpr
release() { bash "$here/make_release.sh" "$@" "$provider" "$tarball" "${debs[@]}"; }

# --- refused inputs, each naming what is wrong
refused() {
  local what=$1 expect=$2
  shift 2
  if "$@" >"$tmp/refused.log" 2>&1; then
    not_ok "$what: accepted"
  elif grep -q -- "$expect" "$tmp/refused.log"; then
    ok "$what: $(head -n 1 "$tmp/refused.log")"
  else
    not_ok "$what: message lacks '$expect'"; show "$tmp/refused.log"
  fi
}
for bad in 1.2 01.2.3 1.2.3- 1.2.3.4 "1.2.3 " ""; do
  refused "VERSION '$bad' refused" "VERSION '$bad' is not a semantic version" release "$bad" "$tmp/bad"
done
refused "VERSION 'v$version' refused" "without the leading 'v'" release "v$version" "$tmp/bad"
refused "VERSION other than the binary's refused" "binary's version" release 9.9.9 "$tmp/bad"
refused "no key refused" PVEK8S_GPG_KEY_ID env -u PVEK8S_GPG_KEY_ID \
  bash "$here/make_release.sh" "$version" "$tmp/bad" "$provider" "$tarball"
[[ ! -e $tmp/bad ]] && ok "nothing written for refused inputs" || not_ok "refused inputs wrote $tmp/bad"

# --- the release
out=$tmp/out
release "$version" "$out" >"$tmp/release.log" 2>&1 || { not_ok "make_release"; show "$tmp/release.log"; exit 1; }
ok "make_release $version"
zip=$out/${name}_linux_amd64.zip
python3 - "$zip" "terraform-provider-proxmox_v$version" >"$tmp/zip.log" 2>&1 <<'PY' &&
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
entries = [(i.filename, oct(i.external_attr >> 16)) for i in z.infolist()]
assert entries == [(sys.argv[2], "0o100755")], entries
PY
  ok "zip holds only terraform-provider-proxmox_v$version, mode 0755" ||
  { not_ok "zip contents"; show "$tmp/zip.log"; }
mkdir "$tmp/unzipped"
unzip -q "$zip" -d "$tmp/unzipped"
[[ $("$tmp/unzipped/terraform-provider-proxmox_v$version" --version) == "terraform-provider-proxmox $version" ]] &&
  ok "zipped binary runs and reports $version" || not_ok "zipped binary"
[[ $(cat "$out/${name}_manifest.json") == '{"version":1,"metadata":{"protocol_versions":["6.0"]}}' ]] &&
  ok "manifest.json: protocol 6.0" || not_ok "manifest.json: $(cat "$out/${name}_manifest.json")"
release "$version" "$tmp/out2" >/dev/null 2>&1 && cmp -s "$zip" "$tmp/out2/${name}_linux_amd64.zip" &&
  ok "zip is reproducible (same bytes when rebuilt)" || not_ok "zip differs when rebuilt"

sums=$out/${name}_SHA256SUMS
others=$out/pvek8s_${version}_SHA256SUMS
[[ $(awk '{print $2}' "$sums") == "${name}_linux_amd64.zip"$'\n'"${name}_manifest.json" ]] &&
  ok "provider SHA256SUMS lists the zip and the manifest" || { not_ok "provider SHA256SUMS entries"; show "$sums"; }
expected=$( (cd "$out" && ls | grep -v -e "^${name}_" -e "^pvek8s_${version}_SHA256SUMS" | LC_ALL=C sort) )
[[ $(awk '{print $2}' "$others" | LC_ALL=C sort) == "$expected" ]] &&
  ok "pvek8s SHA256SUMS lists the tarball and the .debs ($(wc -l <"$others"))" ||
  { not_ok "pvek8s SHA256SUMS entries"; show "$others"; }
(cd "$out" && sha256sum --quiet -c "$sums" "$others") >"$tmp/sums.log" 2>&1 &&
  ok "sha256sum -c both SHA256SUMS" || { not_ok "sha256sum -c"; show "$tmp/sums.log"; }
# Verified as a user would: only the exported public key in a fresh keyring.
gpg --batch --armor --export "$fpr" >"$tmp/release-key.asc"
verify() { GNUPGHOME=$tmp/verify gpg --batch --verify "$1" "$2" >"$tmp/verify.log" 2>&1; }
mkdir -m 700 "$tmp/verify"
GNUPGHOME=$tmp/verify gpg --batch --import "$tmp/release-key.asc" >/dev/null 2>&1
[[ $(head -c 1 "$sums.sig" | od -An -tx1 | tr -d ' ') != 2d ]] &&
  ok "signature is binary (not ASCII-armoured)" || not_ok "signature is ASCII-armoured"
for list in "$sums" "$others"; do
  verify "$list.sig" "$list" && grep -q "Good signature" "$tmp/verify.log" &&
    ok "gpg --verify ${list##*/}.sig: good signature by $fpr" || { not_ok "gpg --verify ${list##*/}"; show "$tmp/verify.log"; }
done
sed '1s/^./0/' "$sums" >"$tmp/forged-sums"
if verify "$sums.sig" "$tmp/forged-sums"; then not_ok "gpg --verify accepts a changed SHA256SUMS"; else
  ok "gpg --verify refuses a changed SHA256SUMS"; fi

# --- the collection tarball installs offline
export ANSIBLE_HOME=$tmp/ansible ANSIBLE_LOCAL_TEMP=$tmp/ansible/tmp ANSIBLE_NOCOLOR=1
ansible-galaxy collection install --offline -p "$tmp/collections" "$out/gcid-k8s-$version.tar.gz" \
  >"$tmp/galaxy.log" 2>&1 &&
  ansible-galaxy collection list gcid.k8s -p "$tmp/collections" 2>/dev/null | grep -Eq "gcid\.k8s +$version" &&
  ok "ansible-galaxy collection install of the release's tarball" || { not_ok "collection install"; show "$tmp/galaxy.log"; }

# --- the pvesim .deb
pdeb=$(printf '%s\n' "${debs[@]}" | grep '/pvek8s-pvesim_' || true)
if [[ -z $pdeb ]]; then
  not_ok "no pvek8s-pvesim_*.deb among: ${debs[*]##*/}"
else
  [[ $(dpkg-deb -f "$pdeb" Package) == pvek8s-pvesim && $(dpkg-deb -f "$pdeb" Depends) == *libssl3* ]] &&
    ok "pvek8s-pvesim: name and Depends ($(dpkg-deb -f "$pdeb" Depends))" || not_ok "pvek8s-pvesim control fields"
  dpkg-deb -x "$pdeb" "$tmp/pvesim-root"
  pvesim=$tmp/pvesim-root/usr/bin/pvesim
  if [[ -x $pvesim ]] && ! readelf -S "$pvesim" | grep -q '\.debug_info'; then
    ok "/usr/bin/pvesim, stripped"
  else
    not_ok "/usr/bin/pvesim missing or not stripped"; dpkg-deb -c "$pdeb" | sed 's/^/    /'
  fi
  token='root@pam!ci=6f1c2a3b-0d4e-4f5a-8b6c-7d8e9f0a1b2c'
  if [[ -x $pvesim ]]; then
    "$pvesim" --listen 127.0.0.1:0 --data "$tmp/pvesim-data" --token "$token" \
      >"$tmp/pvesim.out" 2>"$tmp/pvesim.err" &
    pids+=($!)
    if wait_for "$tmp/pvesim.out" '"url"' 20; then
      ready() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$tmp/pvesim.out" "$1"; }
      if curl -sSf --cacert "$(ready ca_pem)" -H "Authorization: PVEAPIToken=$token" \
           "$(ready url)/api2/json/version" >"$tmp/pvesim.version" 2>&1 &&
         grep -q '"version"' "$tmp/pvesim.version"; then
        ok "packaged pvesim serves /api2/json/version"
      else
        not_ok "packaged pvesim /api2/json/version"; show "$tmp/pvesim.version"
      fi
    else
      not_ok "packaged pvesim did not start within 20 s"; show "$tmp/pvesim.err"
    fi
  fi
fi

# --- the network mirror: a throwaway CA, a server certificate for localhost
pki=$tmp/pki
mkdir "$pki"
printf '%s\n' subjectAltName=DNS:localhost,IP:127.0.0.1 extendedKeyUsage=serverAuth \
  basicConstraints=critical,CA:FALSE >"$pki/server.ext"
if ! { openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=pvek8s-release-test-ca \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
         -keyout "$pki/ca.key" -out "$pki/ca.pem" &&
       openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
         -keyout "$pki/server.key" -out "$pki/server.csr" &&
       openssl x509 -req -days 1 -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
         -CAcreateserial -extfile "$pki/server.ext" -out "$pki/server.pem"; } >"$tmp/pki.log" 2>&1; then
  not_ok "openssl: throwaway CA"; show "$tmp/pki.log"; exit 1
fi

# Three mirrors under one server: good/ serves the release; tampered/ a
# changed zip under the genuine hash; forged/ a changed zip under its own hash
# (a mirror that is itself compromised: only the lock file can catch it).
python3 - "$zip" "$tmp/tampered.zip" <<'PY'
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
info = src.infolist()[0]
with zipfile.ZipFile(sys.argv[2], "w") as z:
    z.writestr(info, src.read(info) + b"\0tampered", compress_type=zipfile.ZIP_DEFLATED)
PY
publish() {  # publish BASE ZIP HASH_LISTED
  local dir=$tmp/www/$1/registry.terraform.io/gcid/proxmox
  mkdir -p "$dir"
  cp "$2" "$dir/${name}_linux_amd64.zip"
  printf '{"versions":{"%s":{}}}\n' "$version" >"$dir/index.json"
  printf '{"archives":{"linux_amd64":{"url":"%s","hashes":["zh:%s"]}}}\n' \
    "${name}_linux_amd64.zip" "$3" >"$dir/$version.json"
}
zh=$(sha "$zip")
grep -q "^$zh  ${name}_linux_amd64.zip\$" "$sums" || not_ok "zip's hash not in SHA256SUMS"
publish good "$zip" "$zh"
publish tampered "$tmp/tampered.zip" "$zh"
publish forged "$tmp/tampered.zip" "$(sha "$tmp/tampered.zip")"
# The provider registry protocol, as the public registry answers it from the
# GitHub release: registry/ serves the release; registry-forged/ a tampered
# zip listed in a changed SHA256SUMS under the original signature.
registry() {  # registry BASE ZIP SUMS
  local base=$tmp/www/$1 api=$tmp/www/$1/v1/providers/gcid/proxmox
  mkdir -p "$base/releases" "$api/$version/download/linux"
  cp "$2" "$base/releases/${name}_linux_amd64.zip"
  cp "$3" "$base/releases/${name}_SHA256SUMS"
  cp "$sums.sig" "$base/releases/${name}_SHA256SUMS.sig"
  printf '{"versions":[{"version":"%s","protocols":["6.0"],"platforms":[{"os":"linux","arch":"amd64"}]}]}\n' \
    "$version" >"$api/versions"
  python3 - "$api/$version/download/linux/amd64" "$1" "$name" "$(sha "$2")" "${fpr: -16}" \
    "$tmp/release-key.asc" <<'PY'
import json, sys
dest, base, name, shasum, key_id, armor = sys.argv[1:7]
rel = "/%s/releases/%s_" % (base, name)
json.dump({"protocols": ["6.0"], "os": "linux", "arch": "amd64",
           "filename": name + "_linux_amd64.zip", "download_url": rel + "linux_amd64.zip",
           "shasums_url": rel + "SHA256SUMS", "shasums_signature_url": rel + "SHA256SUMS.sig",
           "shasum": shasum,
           "signing_keys": {"gpg_public_keys": [{"key_id": key_id, "ascii_armor": open(armor).read()}]}},
          open(dest, "w"))
PY
}
sed "s/^$zh /$(sha "$tmp/tampered.zip") /" "$sums" >"$tmp/forged-sums-zip"
registry registry "$zip" "$sums"
registry registry-forged "$tmp/tampered.zip" "$tmp/forged-sums-zip"

cat >"$tmp/serve.py" <<'PY'
import functools, http.server, os, ssl, sys
root, cert, key, port_file = sys.argv[1:5]
class Handler(http.server.SimpleHTTPRequestHandler):
    # The registry protocol's documents have no extension; they are JSON.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, "": "application/json"}
handler = functools.partial(Handler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)  # whole, or not there at all
server.serve_forever()
PY
python3 "$tmp/serve.py" "$tmp/www" "$pki/server.pem" "$pki/server.key" "$tmp/port" 2>"$tmp/server.log" &
pids+=($!)
wait_for "$tmp/port" '^[0-9]' 20 || { not_ok "mirror server did not start"; show "$tmp/server.log"; exit 1; }
port=$(cat "$tmp/port")

export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 HOME=$tmp/home SSL_CERT_FILE=$pki/ca.pem
unset TF_LOG TF_LOG_PATH TF_DATA_DIR TF_PLUGIN_CACHE_DIR
mkdir -p "$HOME"
for base in good tampered forged; do
  printf 'provider_installation {\n  network_mirror {\n    url = "https://localhost:%s/%s/"\n  }\n}\n' \
    "$port" "$base" >"$tmp/$base.tfrc"
done
for base in registry registry-forged; do
  printf 'host "registry.terraform.io" {\n  services = {\n    "providers.v1" = "https://localhost:%s/%s/v1/providers/"\n  }\n}\n' \
    "$port" "$base" >"$tmp/$base.tfrc"
done
cat >"$tmp/fs.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path = "$tmp/fsmirror"
  }
}
CFG
lock_with_zh() {  # what a user commits after checking SHA256SUMS's signature
  printf 'provider "registry.terraform.io/gcid/proxmox" {\n  version     = "%s"\n  constraints = "%s"\n  hashes = [\n    "zh:%s",\n  ]\n}\n' \
    "$version" "$version" "$zh" >"$1/.terraform.lock.hcl"
}
# tf_init DIR RCFILE [seeded]: a configuration requiring this version.
tf_init() {
  mkdir -p "$tmp/$1"
  printf 'terraform {\n  required_providers {\n    proxmox = {\n      source  = "gcid/proxmox"\n      version = "%s"\n    }\n  }\n}\n' \
    "$version" >"$tmp/$1/main.tf"
  [[ ${3:-} != seeded ]] || lock_with_zh "$tmp/$1"
  (cd "$tmp/$1" && TF_CLI_CONFIG_FILE=$tmp/$2.tfrc terraform init -input=false -no-color) >"$tmp/$1.log" 2>&1
}
h1=$(python3 - "$tmp/unzipped" <<'PY'
import base64, hashlib, os, sys
root = sys.argv[1]
lines = "".join("%s  %s\n" % (hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest(), f)
                for f in sorted(os.listdir(root)))
print("h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())
PY
)

if tf_init fresh good && grep -q "Installed gcid/proxmox v$version" "$tmp/fresh.log" &&
   grep -q "GET /good/registry.terraform.io/gcid/proxmox/$version.json" "$tmp/server.log"; then
  ok "network mirror over HTTPS: terraform init installs $version"
  grep -qF "\"$h1\"" "$tmp/fresh/.terraform.lock.hcl" &&
    ok "lock file records the package's $h1" || { not_ok "lock file lacks $h1"; show "$tmp/fresh/.terraform.lock.hcl"; }
else
  not_ok "network mirror: terraform init"; show "$tmp/fresh.log"
fi
if tf_init seeded good seeded && grep -qF "\"zh:$zh\"" "$tmp/seeded/.terraform.lock.hcl" &&
   grep -qF "\"$h1\"" "$tmp/seeded/.terraform.lock.hcl"; then
  ok "lock file seeded from the signed SHA256SUMS: init keeps zh:$zh and adds h1:"
else
  not_ok "init with the zh: hash in the lock file"; show "$tmp/seeded.log"; show "$tmp/seeded/.terraform.lock.hcl"
fi
refused_init() {  # refused_init DIR RCFILE [seeded] -- WHAT
  if tf_init "$@"; then
    not_ok "$1: a tampered zip was installed"
  elif grep -qi checksum "$tmp/$1.log" && [[ ! -e $tmp/$1/.terraform/providers/registry.terraform.io/gcid ]]; then
    ok "$1: refused ($(why "$tmp/$1.log"))"
  else
    not_ok "$1: failed, but not on a checksum"; show "$tmp/$1.log"
  fi
}
refused_init tampered tampered
refused_init forged forged seeded

# The registry protocol: Terraform itself checks the signature, and records
# the zh: hashes of the signed SHA256SUMS (zip and manifest) in the lock file.
if tf_init signed registry && grep -q "Installed gcid/proxmox v$version (self-signed, key ID ${fpr: -16})" "$tmp/signed.log" &&
   grep -qF "\"zh:$zh\"" "$tmp/signed/.terraform.lock.hcl" &&
   [[ $(grep -o '"zh:[0-9a-f]*' "$tmp/signed/.terraform.lock.hcl" | cut -c5- | sort) == "$(cut -d' ' -f1 "$sums" | sort)" ]]; then
  ok "registry protocol: init verifies the signature (key ID ${fpr: -16}), lock file records zh:$zh"
else
  not_ok "registry protocol: signed install"; show "$tmp/signed.log"; show "$tmp/signed/.terraform.lock.hcl"
fi
if tf_init registry-forged registry-forged; then
  not_ok "registry protocol: a SHA256SUMS changed after signing was accepted"
elif grep -qi "signature" "$tmp/registry-forged.log"; then
  ok "registry protocol: a SHA256SUMS changed after signing is refused ($(why "$tmp/registry-forged.log"))"
else
  not_ok "registry-forged: failed, but not on the signature"; show "$tmp/registry-forged.log"
fi

# `terraform providers mirror` reads origin registries only (it ignores
# provider_installation), so it copies from the registry stand-in.
if (cd "$tmp/signed" && TF_CLI_CONFIG_FILE=$tmp/registry.tfrc \
      terraform providers mirror -platform=linux_amd64 "$tmp/fsmirror") >"$tmp/mirror.log" 2>&1 &&
   cmp -s "$zip" "$tmp/fsmirror/registry.terraform.io/gcid/proxmox/${name}_linux_amd64.zip"; then
  ok "terraform providers mirror copies the release's zip, unchanged"
else
  not_ok "terraform providers mirror"; show "$tmp/mirror.log"; find "$tmp/fsmirror" 2>/dev/null | sed 's/^/    /'
fi
kill "${pids[-1]}"  # the lab side has no network: the copy has to be enough
if tf_init airgapped fs seeded && grep -q "Installed gcid/proxmox v$version" "$tmp/airgapped.log"; then
  ok "filesystem_mirror of that copy installs with the mirror server stopped"
else
  not_ok "filesystem_mirror init"; show "$tmp/airgapped.log"
fi

echo "$failures failed"
((failures == 0))
