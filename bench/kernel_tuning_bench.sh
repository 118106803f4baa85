#!/bin/bash
# One gcid.k8s.kernel_tuning task against the equivalent Python-module tasks
# (ansible.posix.sysctl, community.general.modprobe, swap commands) on the same
# namespace test hosts (three by default), in the same run, rounds interleaved.
#
#   bench/kernel_tuning_bench.sh [ROUNDS [HOSTS]]   (defaults 3 and 3; needs root)
#
# HOSTS may be a comma-separated list (e.g. 3,10): one run per host count.
#
# Uses the collection tarball of build-ansible (override with
# PVEK8S_COLLECTION_TARBALL). Every timed run starts from fresh hosts
# (testhosts reset) with warm SSH connections, so both variants do the full job:
# load overlay and br_netfilter, set ip_forward, both bridge-nf-call keys and
# Kubeflow's two inotify limits live and in /etc/sysctl.d/90-k8s.conf, turn swap
# off and comment it out of /etc/fstab.
#
# This machine's kernel has no loadable-module support (/proc/modules does not
# exist), so community.general.modprobe fails right after its start-up; those
# two tasks run with ignore_errors. They still pay Ansible's and Python's whole
# per-task cost and skip only the modprobe call and the file write, so the
# baseline is, if anything, measured slightly fast.
set -euo pipefail
rounds=${1:-3}
hosts=${2:-3}
if [[ $hosts == *,* ]]; then
  for n in ${hosts//,/ }; do bash "$0" "$rounds" "$n"; done
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd -P)
testhosts=$root/acceptance-tests/hosts/testhosts
tarball=${PVEK8S_COLLECTION_TARBALL:-$(ls "$root"/build-ansible/modules/collection/gcid-k8s-*.tar.gz 2>/dev/null | head -1)}
[[ -f $tarball ]] || { echo "no collection tarball; build target gcid_k8s_collection first" >&2; exit 1; }

lab=$(mktemp -d /tmp/pvek8s-bench.XXXXXX)
cleanup() { "$testhosts" down "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"; }
trap cleanup EXIT
"$testhosts" up "$lab" "$hosts" >/dev/null
export LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 ANSIBLE_COLLECTIONS_PATH=$lab/collections
ANSIBLE_HOME=$lab/ansible-home ansible-galaxy collection install --offline -p "$lab/collections" "$tarball" >/dev/null
# ansible.posix and community.general come with Debian's ansible package.
export ANSIBLE_COLLECTIONS_PATH=$lab/collections:/usr/lib/python3/dist-packages

cat >"$lab/ours.yml" <<'YAML'
- hosts: testhosts
  gather_facts: false
  tasks:
    - name: gcid.k8s.kernel_tuning (kubeflow profile)
      gcid.k8s.kernel_tuning:
        profile: kubeflow
YAML
cat >"$lab/baseline.yml" <<'YAML'
- hosts: testhosts
  gather_facts: false
  vars:
    file: /etc/sysctl.d/90-k8s.conf
  tasks:
    - name: modprobe overlay
      community.general.modprobe: {name: overlay, state: present, persistent: present}
      ignore_errors: true
    - name: modprobe br_netfilter
      community.general.modprobe: {name: br_netfilter, state: present, persistent: present}
      ignore_errors: true
    - name: sysctl net.ipv4.ip_forward
      ansible.posix.sysctl: {name: net.ipv4.ip_forward, value: "1", sysctl_file: "{{ file }}", sysctl_set: true}
    - name: sysctl net.bridge.bridge-nf-call-iptables
      ansible.posix.sysctl: {name: net.bridge.bridge-nf-call-iptables, value: "1", sysctl_file: "{{ file }}", sysctl_set: true}
    - name: sysctl net.bridge.bridge-nf-call-ip6tables
      ansible.posix.sysctl: {name: net.bridge.bridge-nf-call-ip6tables, value: "1", sysctl_file: "{{ file }}", sysctl_set: true}
    - name: sysctl fs.inotify.max_user_instances
      ansible.posix.sysctl: {name: fs.inotify.max_user_instances, value: "1280", sysctl_file: "{{ file }}", sysctl_set: true}
    - name: sysctl fs.inotify.max_user_watches
      ansible.posix.sysctl: {name: fs.inotify.max_user_watches, value: "655360", sysctl_file: "{{ file }}", sysctl_set: true}
    - name: swapoff -a
      ansible.builtin.command: swapoff -a
    - name: comment out swap in /etc/fstab
      ansible.builtin.replace: {path: /etc/fstab, regexp: '^([^#]\S*\s+\S+\s+swap\s.*)$', replace: '# \1'}
YAML

# Asserts that a variant left every host fully prepared.
verify() {
  local h out
  for ((i = 1; i <= hosts; i++)); do
    h=h$i
    out=$("$testhosts" exec "$lab" "$h" sh -c 'cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 1; cat /proc/sys/fs/inotify/max_user_instances /proc/sys/fs/inotify/max_user_watches; tail -n +2 /proc/swaps | wc -l; grep -c "^#.*swap" /etc/fstab; grep -c "inotify" /etc/sysctl.d/90-k8s.conf')
    [[ $(echo $out) == "1 1 1280 655360 0 1 2" ]] || { echo "$1 left $h unprepared: $(echo $out)" >&2; exit 1; }
  done
}

for ((r = 1; r <= rounds; r++)); do
  for variant in $(printf 'ours\nbaseline\n' | shuf); do
    "$testhosts" reset "$lab" >/dev/null
    "$testhosts" ctl "$lab" ansible testhosts -m raw -a true >/dev/null  # warm SSH masters
    start=$(date +%s.%N)
    ANSIBLE_STDOUT_CALLBACK=json "$testhosts" ctl "$lab" ansible-playbook "$lab/$variant.yml" \
      >"$lab/$variant.$r.json" 2>"$lab/$variant.$r.err" || true
    end=$(date +%s.%N)
    echo "$variant $r $start $end" >>"$lab/times"
    verify "$variant"
  done
  echo "round $r of $rounds done" >&2
done

python3 - "$lab" "$rounds" "$hosts" <<'PY'
import json, statistics, sys
from datetime import datetime
lab, rounds, hosts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
wall = {"ours": [], "baseline": []}
for line in open(f"{lab}/times"):
    v, r, s, e = line.split()
    wall[v].append(float(e) - float(s))
def ts(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
def tasks(variant):
    per = {}
    for r in range(1, rounds + 1):
        data = json.load(open(f"{lab}/{variant}.{r}.json"))
        for t in data["plays"][0]["tasks"]:
            d = t["task"]["duration"]
            per.setdefault(t["task"]["name"], []).append(ts(d["end"]) - ts(d["start"]))
    return per
print(f"kernel_tuning bench: {hosts} hosts, {rounds} interleaved rounds, median seconds (wall of ansible-playbook)")
for v in ("baseline", "ours"):
    print(f"\n{v}: {statistics.median(wall[v]):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in wall[v])})")
    for name, ds in tasks(v).items():
        print(f"  {statistics.median(ds):6.2f} s  {name}")
ratio = statistics.median(wall["ours"]) / statistics.median(wall["baseline"])
print(f"\nratio ours/baseline = {ratio:.3f}  (goal <= 0.333: {'met' if ratio <= 1/3 else 'NOT met'})")
PY
