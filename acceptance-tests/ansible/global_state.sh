#!/bin/bash
# Records (snapshot) or compares (check) the machine-wide state that the test
# hosts must never change: global sysctls (fs.*, kernel.*, vm.*), the root
# namespace's net keys the module touches, /proc/swaps, and the machine's own
# /etc files that the module or the harness could write. `check` also asserts
# that the test lab's namespaces and sshds are gone.
#   global_state.sh snapshot FILE
#   global_state.sh check FILE [LAB_DIR]
set -euo pipefail

state() {
  local k
  for k in fs/inotify/max_user_instances fs/inotify/max_user_watches fs/inotify/max_queued_events \
      fs/protected_regular fs/protected_fifos fs/file-max kernel/pid_max kernel/panic \
      vm/swappiness vm/overcommit_memory vm/max_map_count \
      net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables; do
    echo "sysctl $k = $(cat "/proc/sys/$k" 2>&1 | tr -s ' \t' ' ')"
  done
  echo "swaps: $(tail -n +2 /proc/swaps | awk '{print $1}' | tr '\n' ' ')"
  local p
  for p in /etc/sysctl.conf /etc/sysctl.d /etc/modules /etc/modules-load.d /etc/modprobe.d \
      /etc/fstab /etc/systemd/system /etc/ssh /etc/netns /etc/pvek8s-testhost; do
    if [[ -e $p || -L $p ]]; then
      find "$p" -xdev -printf '%p %y %m %u %g %l\n' | sort
      find "$p" -xdev -type f -exec md5sum {} + | sort -k2
    else
      echo "$p absent"
    fi
  done
}

case ${1:-} in
  snapshot)
    state >"${2:?file}"
    ;;
  check)
    file=${2:?file}
    diff -u "$file" <(state) || { echo "FAIL: machine-wide state changed" >&2; exit 1; }
    if [[ -n ${3:-} && -f $3/testhosts.env ]]; then
      prefix=$(sed -n "s/^PREFIX=//p" "$3/testhosts.env")
      if ip netns list | grep -q "^$prefix-"; then
        echo "FAIL: namespaces of $3 still exist" >&2
        exit 1
      fi
      for pidfile in "$3"/h*/sshd.pid; do
        [[ -s $pidfile ]] || continue
        pid=$(<"$pidfile")
        if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$3"; then
          echo "FAIL: sshd $pid of the test hosts still runs" >&2
          exit 1
        fi
      done
    fi
    echo "global state unchanged ($(wc -l <"$file") entries)"
    ;;
  *)
    echo "usage: global_state.sh snapshot FILE | check FILE [LAB_DIR]" >&2
    exit 2
    ;;
esac
