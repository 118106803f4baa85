#!/bin/bash
# gcid.k8s.kubeadm_upgrade (mode node) against a plain ansible.builtin.command
# task running the same kubeadm stand-in with the same arguments (issue 15):
# the module's own overhead, on the same namespace test hosts, in the same run,
# rounds interleaved in a random order.
#
#   bench/kubeadm_upgrade_bench.sh [HOSTS] [ROUNDS] [JSON]   (default 3 hosts, 5 rounds; needs root)
#
# Uses the collection tarball of build-ansible (override with
# PVEK8S_COLLECTION_TARBALL). The hosts get the kubeadm stand-in of
# modules/kubeadm_join/testdata (version v1.27.3, the package already
# upgraded) and a cluster whose control plane is at v1.27.3 while every Node's
# kubelet is at v1.26.1 (the fake Kubernetes state in DIR/shared/kube), each
# host with a kubelet.conf: the state after `mode: apply` on the first control
# plane, before the other nodes follow.
#
#   ours      one gcid.k8s.kubeadm_upgrade task, mode node: kubeadm version,
#             the control plane's version through kubectl (kubeadm-config),
#             the version rules, kubeadm upgrade node, the record.
#   command   one ansible.builtin.command task: kubeadm upgrade node with the
#             same flags, nothing checked before.
#
# Both variants must leave every host's Node at v1.27.3 and report changed;
# a violation is a CORRECTNESS line (bench/correctness.py) and exit 1.
set -euo pipefail
hosts=${1:-3}
rounds=${2:-5}
json_out=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd -P)
testhosts=$root/acceptance-tests/hosts/testhosts
tarball=${PVEK8S_COLLECTION_TARBALL:-$(ls "$root"/build-ansible/modules/collection/gcid-k8s-*.tar.gz 2>/dev/null | head -1)}
[[ -f $tarball ]] || { echo "no collection tarball; build target gcid_k8s_collection first" >&2; exit 1; }

lab=$(mktemp -d /tmp/pvek8s-bench-upgrade.XXXXXX)
cleanup() { "$testhosts" down "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"; }
trap cleanup EXIT
TESTHOSTS_STANDINS=$root/modules/kubeadm_join/testdata "$testhosts" up "$lab" "$hosts" >/dev/null
host_names=$(seq -f 'h%g' 1 "$hosts")
export LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 ANSIBLE_COLLECTIONS_PATH=$lab/collections
ANSIBLE_HOME=$lab/ansible-home ansible-galaxy collection install --offline -p "$lab/collections" "$tarball" >/dev/null

# Per host: kubeadm v1.27.3, its Node name, kubectl serving kubeadm-config
# (the kubectl stand-in of node_drain when present), a kubelet.conf.
for h in $host_names; do
  sbin=$lab/$h/fake/sbin
  echo success >"$sbin/mode"
  echo v1.27.3 >"$sbin/version"
  echo "$h" >"$sbin/node-name"
  if [[ ! -e $sbin/kubectl ]]; then
    # shellcheck disable=SC2016  # the stand-in expands them
    printf '#!/bin/sh\nR="$(dirname "$(readlink -f "$0")")"\n. "$R/kubectl-kubeadm-config.sh"\nkubectl_kubeadm_config "$@"\n' >"$sbin/kubectl"
    chmod 0755 "$sbin/kubectl"
  fi
done
# The cluster after the control plane's upgrade (testhosts reset of all hosts empties it).
seed_cluster() {
  mkdir -p "$lab/shared/kube/nodes"
  echo v1.27.3 >"$lab/shared/kube/version"
  for h in $host_names; do
    printf 'kubelet=v1.26.1\nunschedulable=false\nready=true\ncontrol_plane=false\n' >"$lab/shared/kube/nodes/$h"
    "$testhosts" exec "$lab" "$h" sh -c 'mkdir -p /etc/kubernetes && echo "apiVersion: v1" >/etc/kubernetes/kubelet.conf'
  done
}

cat >"$lab/ours.yml" <<'YAML'
- hosts: testhosts
  gather_facts: false
  tasks:
    - name: gcid.k8s.kubeadm_upgrade
      gcid.k8s.kubeadm_upgrade:
        mode: node
        version: v1.27.3
YAML
cat >"$lab/command.yml" <<'YAML'
- hosts: testhosts
  gather_facts: false
  tasks:
    - name: kubeadm upgrade node (ansible.builtin.command)
      ansible.builtin.command:
        argv: [kubeadm, upgrade, node, --certificate-renewal=true, --etcd-upgrade=true]
YAML

# Every Node of the cluster at v1.27.3 after a variant, or it did not work.
verify() {
  local h
  for h in $host_names; do
    grep -qx kubelet=v1.27.3 "$lab/shared/kube/nodes/$h" || echo "$1 round $2 left $h at $(head -1 "$lab/shared/kube/nodes/$h")" >>"$lab/problems"
  done
}

: >"$lab/problems"
for ((r = 1; r <= rounds; r++)); do
  for variant in $(printf 'ours\ncommand\n' | shuf); do
    "$testhosts" reset "$lab" >/dev/null
    seed_cluster
    "$testhosts" ctl "$lab" ansible testhosts -m raw -a true >/dev/null  # warm SSH masters
    start=$(date +%s.%N)
    rc=0
    ANSIBLE_STDOUT_CALLBACK=json "$testhosts" ctl "$lab" ansible-playbook "$lab/$variant.yml" \
      >"$lab/$variant.$r.json" 2>"$lab/$variant.$r.err" || rc=$?
    end=$(date +%s.%N)
    ((rc == 0)) || { echo "$variant failed (exit $rc):" >&2; tail -c 3000 "$lab/$variant.$r.json" "$lab/$variant.$r.err" >&2; exit 1; }
    echo "$variant $r $start $end" >>"$lab/times"
    verify "$variant" "$r"
  done
  echo "round $r of $rounds done" >&2
done

# The stand-in alone on h1, without Ansible: the fixed cost in both variants.
for ((r = 1; r <= rounds + 2; r++)); do
  start=$(date +%s.%N)
  "$testhosts" exec "$lab" h1 /usr/local/sbin/kubeadm upgrade node --certificate-renewal=true --etcd-upgrade=true >/dev/null
  end=$(date +%s.%N)
  echo "standin $r $start $end" >>"$lab/times"
done

python3 - "$lab" "$rounds" "$hosts" "$json_out" "$root/bench" <<'PY'
import json, statistics, sys
from datetime import datetime
lab, rounds, hosts, json_out, bench = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, bench)
import correctness
wall = {"ours": [], "command": [], "standin": []}
for line in open(f"{lab}/times"):
    v, r, s, e = line.split()
    wall[v].append(float(e) - float(s))
def ts(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
for problem in open(f"{lab}/problems").read().splitlines():
    correctness.check(False, problem)
task = {}
for v in ("ours", "command"):
    task[v] = []
    for r in range(1, rounds + 1):
        t = json.load(open(f"{lab}/{v}.{r}.json"))["plays"][0]["tasks"][0]
        correctness.check(len(t["hosts"]) == hosts and all(h.get("changed") for h in t["hosts"].values()),
                          f"{v} round {r}: not changed on every host")
        d = t["task"]["duration"]
        task[v].append(ts(d["end"]) - ts(d["start"]))
def spread(xs):
    return f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f}"
print(f"kubeadm_upgrade bench: {hosts} host(s), {rounds} interleaved rounds")
for v in ("command", "ours"):
    print(f"  {v:<8} playbook wall {spread(wall[v])}; task {spread(task[v])}")
ratio = statistics.median(wall["ours"]) / statistics.median(wall["command"])
task_ratio = statistics.median(task["ours"]) / statistics.median(task["command"])
print(f"{'benchmark':<44}{'ours s':>8}{'baseline s':>12}{'ratio':>8}  goal")
print(f"{'kubeadm_upgrade, ' + str(hosts) + ' hosts vs command (playbook)':<44}"
      f"{statistics.median(wall['ours']):>8.2f}{statistics.median(wall['command']):>12.2f}"
      f"{ratio:>8.2f}  <= 1.0 {'met' if ratio <= 1.0 else 'NOT met'}")
print(f"{'  the task alone':<44}{statistics.median(task['ours']):>8.2f}"
      f"{statistics.median(task['command']):>12.2f}{task_ratio:>8.2f}")
print(f"  stand-in alone on one host, no Ansible: {spread(wall['standin'])}")
results = {"hosts": hosts, "rounds": rounds, "wall_s": wall, "task_s": task, "ratio": ratio,
           "task_ratio": task_ratio, "goal": 1.0}
status = correctness.finish(results, "every Node at v1.27.3 and changed on every host, each round")
if json_out:
    with open(json_out, "w") as f:
        json.dump(results, f, indent=2)
sys.exit(status)
PY
