#!/bin/bash
# Self-test of testhosts: two hosts come up reachable over SSH, each sees only
# its own /etc, fakes and stand-ins, the machine is untouched, reset restores a
# host, and down leaves no namespace or process behind.
set -euo pipefail
testhosts=$(cd "$(dirname "$0")" && pwd -P)/testhosts
lab=$(mktemp -d /tmp/pvek8s-testhosts-test.XXXXXX)
trap '"$testhosts" down "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect WHAT EXPECTED ACTUAL
  [[ $2 == "$3" ]] || fail "$1: expected '$2', got '$3'"
}
on() { local h=$1; shift; "$testhosts" exec "$lab" "$h" sh -c "$*"; }

machine_inotify=$(cat /proc/sys/fs/inotify/max_user_instances)
"$testhosts" up "$lab" 2 >"$lab/up.out"
expect "hosts" "h1 10.123.0.11" "$(cut -d' ' -f1,2 "$lab/up.out" | head -1)"
prefix=$(sed -n 's/^PREFIX=//p' "$lab/testhosts.env")

# Real SSH from the controller namespace, strict host keys.
out=$("$testhosts" ctl "$lab" ssh -F /dev/null -i "$lab/id_ed25519" -o BatchMode=yes \
  -o UserKnownHostsFile="$lab/known_hosts" -o StrictHostKeyChecking=yes root@10.123.0.12 \
  'echo $PVEK8S_TESTHOST; cat /etc/pvek8s-testhost')
expect "ssh to h2" $'h2\nh2' "$out"

# Per-host /etc.
on h1 'echo one > /etc/pvek8s-selftest'
expect "h1 /etc write lands in its upper dir" one "$(cat "$lab/h1/etc-upper/pvek8s-selftest")"
expect "h2 does not see h1's file" absent "$(on h2 'test -e /etc/pvek8s-selftest && echo present || echo absent')"
[[ ! -e /etc/pvek8s-selftest ]] || fail "the machine's /etc was written"

# Global sysctls are read-only, the faked ones are the host's own, net.* is per namespace.
on h1 'echo 1 > /proc/sys/kernel/hostname' 2>/dev/null && fail "kernel.* is writable in a host"
on h1 'echo 4096 > /proc/sys/fs/inotify/max_user_instances'
expect "faked key in h1" 4096 "$(on h1 cat /proc/sys/fs/inotify/max_user_instances)"
expect "faked key in h2" 128 "$(on h2 cat /proc/sys/fs/inotify/max_user_instances)"
expect "machine inotify" "$machine_inotify" "$(cat /proc/sys/fs/inotify/max_user_instances)"
on h1 'echo 1 > /proc/sys/net/ipv4/ip_forward'
expect "h2 ip_forward" 0 "$(on h2 cat /proc/sys/net/ipv4/ip_forward)"

# Stand-ins act on the host's view only.
on h1 'modprobe br_netfilter'
on h1 'test -e /sys/module/br_netfilter/initstate' || fail "modprobe stand-in did not load"
on h2 'test ! -e /sys/module/br_netfilter' || fail "h2 sees h1's module"
[[ ! -e /sys/module/br_netfilter/initstate ]] || fail "the machine's /sys/module changed"
on h1 'swapoff -a'
expect "h1 swaps" 0 "$(on h1 'tail -n +2 /proc/swaps | wc -l')"
expect "h2 swaps" 1 "$(on h2 'tail -n +2 /proc/swaps | wc -l')"

# reset brings h1 back to its initial state.
"$testhosts" reset "$lab" h1
expect "reset /etc" absent "$(on h1 'test -e /etc/pvek8s-selftest && echo present || echo absent')"
expect "reset fake sysctl" 128 "$(on h1 cat /proc/sys/fs/inotify/max_user_instances)"
expect "reset ip_forward" 0 "$(on h1 cat /proc/sys/net/ipv4/ip_forward)"
expect "reset swaps" 1 "$(on h1 'tail -n +2 /proc/swaps | wc -l')"

pids=$(cat "$lab"/h*/sshd.pid)
"$testhosts" down "$lab"
if ip netns list | grep -q "^$prefix-"; then fail "namespaces left: $(ip netns list | grep "^$prefix-")"; fi
for p in $pids; do
  if [[ -r /proc/$p/stat ]] && [[ $(awk '{print $3}' "/proc/$p/stat") != Z ]]; then fail "sshd $p still runs"; fi
done
echo "testhosts_test: ok"
