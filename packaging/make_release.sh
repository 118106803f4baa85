#!/usr/bin/env bash
# Assembles a release from files already built, in the layout the public
# Terraform Registry reads from a GitHub release:
#   terraform-provider-proxmox_VERSION_linux_amd64.zip  (the stripped binary,
#       named terraform-provider-proxmox_vVERSION, with fixed timestamps so
#       that the same binary always gives the same zip and hash)
#   terraform-provider-proxmox_VERSION_manifest.json    (plugin protocol 6.0)
#   terraform-provider-proxmox_VERSION_SHA256SUMS       (the two files above)
#   terraform-provider-proxmox_VERSION_SHA256SUMS.sig   (binary detached GPG
#       signature, by the key PVEK8S_GPG_KEY_ID from GNUPGHOME's keyring)
# plus the Ansible collection tarball (built by ansible-galaxy collection
# build) and any .deb given, listed and signed the same way in
# pvek8s_VERSION_SHA256SUMS(.sig). .ci/release builds the inputs and calls this.
#
# usage: make_release.sh VERSION OUTDIR PROVIDER_BINARY COLLECTION_TARBALL [DEB...]
#        make_release.sh --check VERSION   (VERSION and the key only)
# environment:
#   PVEK8S_GPG_KEY_ID       key id, fingerprint or e-mail of the signing key
#   PVEK8S_GPG_PASSPHRASE   its passphrase, if it has one (loopback pinentry)
#   PVEK8S_RELEASE_UNSIGNED=1  no signature (mirror-only; the registry refuses it)
#   SOURCE_DATE_EPOCH       timestamp of the files in the zip (default: the
#                           last commit's, else 2020-01-01)
set -euo pipefail
die() { echo "make_release: $*" >&2; exit 1; }
# Semantic Versioning 2.0.0, as the registry and `required_providers` parse it.
check_version() {
  local semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
  if [[ $1 == v* ]]; then
    die "VERSION '$1': give it without the leading 'v' (${1#v}); only the git tag has the 'v'"
  fi
  [[ $1 =~ $semver ]] ||
    die "VERSION '$1' is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.2.3)"
}
check_key() {
  [[ ${PVEK8S_RELEASE_UNSIGNED:-} == 1 || -n ${PVEK8S_GPG_KEY_ID:-} ]] ||
    die "PVEK8S_GPG_KEY_ID is not set: the registry needs the SHA256SUMS signed (set it to the key's fingerprint, and GNUPGHOME to its keyring), or set PVEK8S_RELEASE_UNSIGNED=1 for a mirror-only release"
}
if [[ ${1:-} == --check ]]; then
  (($# == 2)) || die "usage: make_release.sh --check VERSION"
  check_version "$2"
  check_key
  exit 0
fi
(($# >= 4)) || die "usage: make_release.sh VERSION OUTDIR PROVIDER_BINARY COLLECTION_TARBALL [DEB...]"
version=$1 out=$2 provider=$3 tarball=$4
shift 4
debs=("$@")
check_version "$version"
check_key
[[ -x $provider ]] || die "PROVIDER_BINARY '$provider' is not an executable file"
[[ -f $tarball ]] || die "COLLECTION_TARBALL '$tarball' does not exist"
for deb in ${debs[@]+"${debs[@]}"}; do [[ -f $deb ]] || die "DEB '$deb' does not exist"; done

# A release whose name disagrees with what the binary says about itself would
# show one version in the lock file and another in the provider's logs.
reported=$("$provider" --version 2>/dev/null || true)
[[ $reported == "terraform-provider-proxmox $version" ]] ||
  die "VERSION '$version' differs from the binary's version ('$reported'): bump kProviderVersion in provider/resources/proxmox_provider.h and version in modules/collection/galaxy.yml, rebuild, then release"
[[ $(basename "$tarball") == "gcid-k8s-$version.tar.gz" ]] ||
  die "VERSION '$version' differs from the collection tarball's ($(basename "$tarball")): bump version in modules/collection/galaxy.yml"

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$(dirname "$0")" log -1 --format=%ct 2>/dev/null || echo 1577836800)
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number of seconds"

name=terraform-provider-proxmox_$version
bin_name=terraform-provider-proxmox_v$version
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-release-XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out/${name}"_* "$out/pvek8s_${version}"_SHA256SUMS*

# The binary, stripped like the .deb's, zipped with fixed metadata (mode 0755,
# the epoch above, no extra fields) so that rebuilding gives the same bytes.
strip --strip-unneeded -o "$work/$bin_name" "$provider"
python3 - "$work/$bin_name" "$out/${name}_linux_amd64.zip" "$SOURCE_DATE_EPOCH" <<'PY'
import os, sys, time, zipfile
src, dest, epoch = sys.argv[1], sys.argv[2], max(int(sys.argv[3]), 315532800)
info = zipfile.ZipInfo(os.path.basename(src), time.gmtime(epoch)[:6])
info.compress_type = zipfile.ZIP_DEFLATED
info.create_system = 3  # Unix, so that the mode below is honoured
info.external_attr = 0o100755 << 16
with open(src, "rb") as f, zipfile.ZipFile(dest, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY

printf '{"version":1,"metadata":{"protocol_versions":["6.0"]}}\n' >"$out/${name}_manifest.json"
cp "$tarball" "$out/"
for deb in ${debs[@]+"${debs[@]}"}; do cp "$deb" "$out/"; done

# The provider's SHA256SUMS lists the zip and the manifest only, as the
# registry's does: Terraform records every line of a signed SHA256SUMS as a
# zh: hash of the provider in the lock file. The rest has its own list.
sums() {  # sums LIST FILE...: writes LIST and, unless unsigned, LIST.sig
  (cd "$out" && sha256sum "${@:2}") >"$out/$1"
  [[ ${PVEK8S_RELEASE_UNSIGNED:-} != 1 ]] || return 0
  local gpg_args=(--batch --yes --local-user "$PVEK8S_GPG_KEY_ID" --detach-sign)
  if [[ -n ${PVEK8S_GPG_PASSPHRASE:-} ]]; then
    gpg_args+=(--pinentry-mode loopback --passphrase-fd 3)
  fi
  if ! gpg "${gpg_args[@]}" --output "$out/$1.sig" "$out/$1" \
      3<<<"${PVEK8S_GPG_PASSPHRASE:-}" 2>"$work/gpg.log"; then
    cat "$work/gpg.log" >&2
    die "gpg could not sign with PVEK8S_GPG_KEY_ID '$PVEK8S_GPG_KEY_ID' (GNUPGHOME=${GNUPGHOME:-~/.gnupg})"
  fi
}
sums "${name}_SHA256SUMS" "${name}_linux_amd64.zip" "${name}_manifest.json"
others=("$(basename "$tarball")")
for deb in ${debs[@]+"${debs[@]}"}; do others+=("$(basename "$deb")"); done
sums "pvek8s_${version}_SHA256SUMS" "${others[@]}"
ls -l "$out"
