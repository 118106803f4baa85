#!/bin/bash
# gcid.k8s.kubeadm_join against a plain ansible.builtin.command task running the
# same kubeadm stand-in with the same arguments (issue 8, item 5): the module's
# own overhead, on the same namespace test hosts, in the same run, rounds
# interleaved in a random order.
#
#   bench/kubeadm_join_bench.sh [HOSTS] [ROUNDS] [JSON]   (default 3 hosts, 5 rounds; needs root)
#
# Uses the collection tarball of build-ansible (override with
# PVEK8S_COLLECTION_TARBALL). The hosts get the kubeadm stand-in of
# modules/kubeadm_join/testdata (mode "success", version v1.30.4) and the join
# material the integration test uses: a CA made with openssl, its pin
# (sha256 of the SubjectPublicKeyInfo), the token abcdef.0123456789abcdef,
# written as the stand-in's fake cluster (what init on a control plane would
# leave in the hosts' shared directory) after every reset, so that discovery
# checks the pin and the token as kubeadm does.
#
# Every timed run starts from fresh hosts (testhosts reset) with warm SSH
# connections; both variants end with each host joined
# (/etc/kubernetes/kubelet.conf pointing at the endpoint, checked after every run).
#
#   ours      one gcid.k8s.kubeadm_join task: kubeadm version, the kubelet.conf
#             check, a private JoinConfiguration, kubeadm join --config FILE.
#   command   one ansible.builtin.command task: kubeadm join --config FILE with
#             creates: /etc/kubernetes/kubelet.conf. FILE, the very configuration
#             the module writes (JSON, v1beta3 for kubeadm 1.30), is put on the
#             hosts (0600) before the timer starts: the baseline gets for free the
#             template/copy task a real playbook would need.
set -euo pipefail
hosts=${1:-3}
rounds=${2:-5}
json_out=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd -P)
testhosts=$root/acceptance-tests/hosts/testhosts
tarball=${PVEK8S_COLLECTION_TARBALL:-$(ls "$root"/build-ansible/modules/collection/gcid-k8s-*.tar.gz 2>/dev/null | head -1)}
[[ -f $tarball ]] || { echo "no collection tarball; build target gcid_k8s_collection first" >&2; exit 1; }

lab=$(mktemp -d /tmp/pvek8s-bench-join.XXXXXX)
cleanup() { "$testhosts" down "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"; }
trap cleanup EXIT
TESTHOSTS_STANDINS=$root/modules/kubeadm_join/testdata "$testhosts" up "$lab" "$hosts" >/dev/null
host_names=$(seq -f 'h%g' 1 "$hosts")
for h in $host_names; do
  echo success >"$lab/$h/fake/sbin/mode"
  echo v1.30.4 >"$lab/$h/fake/sbin/version"
done
export LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 ANSIBLE_COLLECTIONS_PATH=$lab/collections
ANSIBLE_HOME=$lab/ansible-home ansible-galaxy collection install --offline -p "$lab/collections" "$tarball" >/dev/null

# The join material, as kubeadm_join_integration_test makes it.
endpoint=10.123.0.11:6443
token=abcdef.0123456789abcdef
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$lab/ca.key" -out "$lab/ca.crt" -days 1 \
  -subj /CN=kubernetes 2>/dev/null
hash=sha256:$(openssl x509 -in "$lab/ca.crt" -pubkey -noout | openssl pkey -pubin -outform der |
  sha256sum | cut -d' ' -f1)
# The control plane the stand-ins discover (testhosts reset of all hosts empties it).
seed_cluster() {
  mkdir -p "$lab/shared/kubeadm"
  cp "$lab/ca.crt" "$lab/shared/kubeadm/ca.crt"
  echo "$endpoint" >"$lab/shared/kubeadm/endpoints"
  echo "$token 0" >"$lab/shared/kubeadm/tokens"
}
seed_cluster

cat >"$lab/ours.yml" <<YAML
- hosts: testhosts
  gather_facts: false
  tasks:
    - name: gcid.k8s.kubeadm_join
      gcid.k8s.kubeadm_join:
        api_server_endpoint: $endpoint
        token: $token
        ca_cert_hashes: ["$hash"]
        node_name: "{{ inventory_hostname }}"
        labels: {node-role.kubernetes.io/worker: ""}
YAML
cat >"$lab/command.yml" <<'YAML'
- hosts: testhosts
  gather_facts: false
  tasks:
    - name: kubeadm join (ansible.builtin.command)
      ansible.builtin.command:
        argv: [kubeadm, join, --config, /etc/pvek8s-bench/join.json]
        creates: /etc/kubernetes/kubelet.conf
YAML

# The JoinConfiguration the module writes for these arguments and kubeadm 1.30
# (JoinConfiguration() in modules/kubeadm_join/kubeadm_join.cc), per host.
join_config() {
  python3 - "$1" "$endpoint" "$token" "$hash" <<'PY'
import json, sys
host, endpoint, token, pin = sys.argv[1:]
print(json.dumps({
    "apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "JoinConfiguration",
    "discovery": {"bootstrapToken": {"apiServerEndpoint": endpoint, "token": token,
                                     "caCertHashes": [pin], "unsafeSkipCAVerification": False},
                  "tlsBootstrapToken": token, "timeout": "5m0s"},
    "nodeRegistration": {"criSocket": "unix:///var/run/crio/crio.sock", "name": host,
                         "kubeletExtraArgs": {"node-labels": "node-role.kubernetes.io/worker="}},
}, indent=2))
PY
}
for h in $host_names; do join_config "$h" >"$lab/$h.join.json"; done

# Asserts that a variant left every host joined to the endpoint.
verify() {
  local h
  for h in $host_names; do
    "$testhosts" exec "$lab" "$h" grep -q "server: https://$endpoint\$" /etc/kubernetes/kubelet.conf ||
      { echo "$1 left $h not joined (see $lab/$1.$2.json)" >&2; exit 1; }
  done
}

for ((r = 1; r <= rounds; r++)); do
  for variant in $(printf 'ours\ncommand\n' | shuf); do
    "$testhosts" reset "$lab" >/dev/null
    seed_cluster
    if [[ $variant == command ]]; then
      for h in $host_names; do
        "$testhosts" exec "$lab" "$h" sh -c \
          'mkdir -p /etc/pvek8s-bench && umask 077 && cat >/etc/pvek8s-bench/join.json' <"$lab/$h.join.json"
      done
    fi
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

# The stand-in alone, on h1 without Ansible (what neither variant can avoid):
# the fixed cost to subtract from both tasks to get their overheads.
"$testhosts" exec "$lab" h1 sh -c \
  'mkdir -p /etc/pvek8s-bench && umask 077 && cat >/etc/pvek8s-bench/join.json' <"$lab/h1.join.json"
for ((r = 1; r <= rounds + 2; r++)); do
  start=$(date +%s.%N)
  "$testhosts" exec "$lab" h1 /usr/local/sbin/kubeadm join --config /etc/pvek8s-bench/join.json >/dev/null
  end=$(date +%s.%N)
  echo "standin $r $start $end" >>"$lab/times"
done

python3 - "$lab" "$rounds" "$hosts" "$json_out" <<'PY'
import json, statistics, sys
from datetime import datetime
lab, rounds, hosts, json_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
wall = {"ours": [], "command": [], "standin": []}
for line in open(f"{lab}/times"):
    v, r, s, e = line.split()
    wall[v].append(float(e) - float(s))
def ts(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
task = {}
for v in ("ours", "command"):
    task[v] = []
    for r in range(1, rounds + 1):
        data = json.load(open(f"{lab}/{v}.{r}.json"))
        t = data["plays"][0]["tasks"][0]
        assert all(h.get("changed") for h in t["hosts"].values()), (v, r, t["hosts"])
        d = t["task"]["duration"]
        task[v].append(ts(d["end"]) - ts(d["start"]))
def spread(xs):
    return f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f}"
print(f"kubeadm_join bench: {hosts} host(s), {rounds} interleaved rounds")
outside = {v: [w - t for w, t in zip(wall[v], task[v])] for v in task}
for v in ("command", "ours"):
    print(f"  {v:<8} playbook wall {spread(wall[v])}; task {spread(task[v])};"
          f" outside the task {spread(outside[v])}")
ratio = statistics.median(wall["ours"]) / statistics.median(wall["command"])
task_ratio = statistics.median(task["ours"]) / statistics.median(task["command"])
print(f"{'benchmark':<44}{'ours s':>8}{'baseline s':>12}{'ratio':>8}  goal")
print(f"{'kubeadm_join, ' + str(hosts) + ' hosts vs command (playbook)':<44}"
      f"{statistics.median(wall['ours']):>8.2f}{statistics.median(wall['command']):>12.2f}"
      f"{ratio:>8.2f}  <= 1.0 {'met' if ratio <= 1.0 else 'NOT met'}")
print(f"{'  the task alone':<44}{statistics.median(task['ours']):>8.2f}"
      f"{statistics.median(task['command']):>12.2f}{task_ratio:>8.2f}")
alone = statistics.median(wall["standin"])
over = {v: statistics.median(task[v]) - alone for v in task}
over_ratio = over["ours"] / over["command"] if over["command"] > 0 else float("nan")
print(f"{'  overhead: task - kubeadm stand-in alone':<44}{over['ours']:>8.2f}{over['command']:>12.2f}"
      f"{over_ratio:>8.2f}  (stand-in alone on one host, no Ansible: {spread(wall['standin'])})")
if json_out:
    with open(json_out, "w") as f:
        json.dump({"hosts": hosts, "rounds": rounds, "wall_s": wall, "task_s": task,
                   "outside_task_s": outside,
                   "ratio": ratio, "task_ratio": task_ratio, "standin_alone_s": alone,
                   "overhead_s": over, "overhead_ratio": over_ratio, "goal": 1.0}, f, indent=2)
PY
