#!/usr/bin/env python3
"""What a Terraform plan does to the Kubernetes cluster, as Markdown.

usage: plan_review.py PLAN_JSON [--diagnostics PLAN_LOG] [--playbooks DIR] [--out FILE]

PLAN_JSON is `terraform show -json PLANFILE` (a saved plan). It says which
proxmox_k8s_node resources are added, removed or replaced (with Terraform's
replace_paths) and which proxmox_k8s_cluster changes rotate the bootstrap
token or make a new CA. A saved plan does not keep the provider's warnings,
so reboots are derived from the attributes the provider documents as
rebooting a running node (the same rule as its "Node will reboot" warning):
a cloud-init setting under on_cloudinit_change = "reboot", or CPU or memory.
PLAN_LOG, the output of `terraform plan -json -out=PLANFILE`, adds the
provider's own warnings; a node it warns about is listed even if the rule
above missed it.

Values Terraform marks sensitive (before_sensitive / after_sensitive) are
never printed; only attribute names and plain settings of the nodes are.
Python 3 standard library only.
"""

import argparse
import json
import os
import sys

NODE_TYPE = "proxmox_k8s_node"
CLUSTER_TYPE = "proxmox_k8s_cluster"
# Kept in step with kCloudInitAttrs in provider/resources/k8s_node/k8s_node.cc.
CLOUD_INIT_ATTRS = ("ip", "ssh_public_keys", "ssh_user", "nameservers", "search_domain")
HARDWARE_ATTRS = ("memory", "cpu")
# Computed attributes whose change follows from another one.
DERIVED_ATTRS = {"id", "vmid", "ipv4_address", "ssh_host", "mac_addresses"}
TOKEN_ATTRS = ("bootstrap_token", "token_expires_at")
REMOVE_REASONS = {
    "delete_because_no_resource_config": "its resource block is gone",
    "delete_because_count_index": "count lowered",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_module": "its module is gone",
    "delete_because_wrong_repetition": "count/for_each changed",
}
MARKER = "<!-- pvek8s-plan-review -->"
MASK = "(sensitive)"
UNKNOWN = "(known after apply)"
REBOOT_SUMMARY = "Node will reboot"
DRAIN = "kubectl drain {} --ignore-daemonsets --delete-emptydir-data"


class PlanError(Exception):
    """The input is not what the review reads; the message names the field."""


def load_plan(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise PlanError(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise PlanError(f"{path}: not JSON ({e}); pass `terraform show -json PLANFILE`") from e
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise PlanError(f"{path}: no format_version; pass `terraform show -json PLANFILE`")
    if "planned_values" not in doc:
        raise PlanError(f"{path}: no planned_values: this is state, not a saved plan "
                        "(terraform show -json needs the plan file)")
    changes = doc.get("resource_changes", [])
    if not isinstance(changes, list):
        raise PlanError(f"{path}: resource_changes is not a list")
    for i, rc in enumerate(changes):
        if not isinstance(rc, dict) or not isinstance(rc.get("change"), dict) or \
                not isinstance(rc["change"].get("actions"), list):
            raise PlanError(f"{path}: resource_changes[{i}].change.actions is missing")
    return doc


def load_diagnostics(path):
    """Warnings of `terraform plan -json`, one JSON object a line."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError as e:
                    raise PlanError(f"{path}:{n}: not a JSON line ({e}); pass the output of "
                                    "`terraform plan -json`") from e
                if msg.get("type") == "diagnostic" and isinstance(msg.get("diagnostic"), dict):
                    out.append(msg["diagnostic"])
    except OSError as e:
        raise PlanError(f"{path}: {e.strerror}") from e
    return out


def sensitive(mask):
    """True when a before/after_sensitive mask marks the value or part of it."""
    if mask is True:
        return True
    if isinstance(mask, dict):
        return any(sensitive(v) for v in mask.values())
    if isinstance(mask, list):
        return any(sensitive(v) for v in mask)
    return False


def value(change, side, attr):
    """The printable value of a top-level attribute, masked when sensitive."""
    if sensitive((change.get(side + "_sensitive") or {}).get(attr)):
        return MASK
    if side == "after" and (change.get("after_unknown") or {}).get(attr) is True:
        return UNKNOWN
    v = (change.get(side) or {}).get(attr)
    if isinstance(v, (dict, list)):
        return compact(v)
    return "" if v is None else str(v)


def compact(v):
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict):
        v = v[0]  # a single nested block
    if isinstance(v, dict):
        return ", ".join(f"{k}={compact(x)}" for k, x in sorted(v.items()) if x is not None)
    if isinstance(v, list):
        return "[" + ", ".join(compact(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def changed_attrs(change):
    """Top-level attributes an update changes, computed consequences left out."""
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    names = set(before) | set(after) | {k for k, v in unknown.items() if v is True}
    out = []
    for name in sorted(names - DERIVED_ATTRS):
        if unknown.get(name) is True or before.get(name) != after.get(name):
            out.append(name)
    return out


def describe_change(change, attr):
    before, after = value(change, "before", attr), value(change, "after", attr)
    if MASK in (before, after):
        return f"`{attr}` {MASK}"
    return f"`{attr}` {before or 'unset'} → {after or 'unset'}"


class Node:
    """One proxmox_k8s_node resource change, in the cluster's terms."""

    def __init__(self, rc):
        self.address = rc["address"]
        self.change = rc["change"]
        self.actions = self.change["actions"]
        self.reason = rc.get("action_reason", "")
        self.replace_paths = self.change.get("replace_paths") or []
        state = self.change.get("after") or self.change.get("before") or {}
        prior = self.change.get("before") or {}
        self.name = state.get("name") or prior.get("name") or self.address
        self.role = state.get("role") or prior.get("role") or "worker"
        self.host = value(self.change, "after" if self.change.get("after") else "before",
                          "target_node")
        self.address_ip = value(self.change, "after" if self.change.get("after") else "before",
                                "ipv4_address")
        self.reboot_reasons = []
        self.reboot_attrs = set()  # the changes already named as reboot reasons

    @property
    def kind(self):
        a = self.actions
        if a == ["create"]:
            return "added"
        if a == ["delete"]:
            return "removed"
        if sorted(a) == ["create", "delete"]:
            return "replaced"
        if a == ["update"]:
            return "updated"
        if a == ["forget"]:
            return "forgotten"
        return "unchanged"

    def control_plane(self):
        return self.role == "control-plane"

    def label(self):
        return f"`{self.name}`" + (" (control plane)" if self.control_plane() else "")

    def why_replaced(self):
        if self.replace_paths:
            parts = []
            for path in self.replace_paths:
                attr = ".".join(str(p) for p in path)
                top = str(path[0]) if path else attr
                if len(path) == 1:
                    parts.append(describe_change(self.change, top))
                else:
                    parts.append(f"`{attr}`")
            return "; ".join(parts)
        return {
            "replace_because_tainted": "tainted (a failed create, or `terraform taint`)",
            "replace_by_request": "`-replace` on the command line",
        }.get(self.reason, self.reason or "Terraform gave no path")

    def other_changes(self):
        return [a for a in changed_attrs(self.change) if a not in self.reboot_attrs]

    def derive_reboot(self):
        """The provider's reboot rule (WarnReboots) applied to the plan."""
        if self.kind != "updated":
            return
        before, after = self.change.get("before") or {}, self.change.get("after") or {}
        changed = set(changed_attrs(self.change))
        ci = [a for a in CLOUD_INIT_ATTRS if a in changed]
        policy = after.get("on_cloudinit_change") or "reboot"
        if ci and policy == "reboot" and after.get("started", True) is not False:
            self.reboot_attrs.update(ci)
            self.reboot_reasons.append("cloud-init: " + ", ".join(
                describe_change(self.change, a) for a in ci))
        hw = [a for a in HARDWARE_ATTRS if a in changed]
        if hw and before.get("started") is True:
            self.reboot_attrs.update(hw)
            self.reboot_reasons.append("hardware: " + ", ".join(
                describe_change(self.change, a) for a in hw))


def cluster_findings(rc):
    """Lines about the cluster identity: new CA, token rotation."""
    change = rc["change"]
    actions = change["actions"]
    name = (change.get("after") or change.get("before") or {}).get("name", rc["address"])
    if actions == ["create"]:
        return [f"New cluster identity `{name}`: a CA, a bootstrap token and a certificate key "
                "are generated (kept in state, never shown here)."]
    if actions == ["delete"]:
        return [f"Cluster identity `{name}` is destroyed: its CA and token leave the state; "
                "nodes joined with it keep running but nothing new can join."]
    if sorted(actions) == ["create", "delete"]:
        paths = ", ".join("`" + ".".join(map(str, p)) + "`"
                          for p in change.get("replace_paths") or []) or rc.get("action_reason", "")
        return [f"**Cluster identity `{name}` is replaced ({paths}): a new CA.** Every node "
                "must be reset and join again (`kubeadm reset`, then the cluster playbook)."]
    if actions != ["update"]:
        return []
    unknown = change.get("after_unknown") or {}
    out = []
    if any(unknown.get(a) for a in TOKEN_ATTRS):
        why = [describe_change(change, a) for a in changed_attrs(change)
               if a not in TOKEN_ATTRS and a != "kubeadm_init_config"]
        out.append(f"Bootstrap token of `{name}` is rotated"
                   + (f" ({'; '.join(why)})" if why else " (the old one expired)")
                   + f": new value {MASK}. Joins after this apply need the new inventory.")
    else:
        others = [a for a in changed_attrs(change) if a != "kubeadm_init_config"]
        if others:
            out.append(f"Cluster identity `{name}` changes in place: "
                       + "; ".join(describe_change(change, a) for a in others)
                       + ". The running cluster is not reconfigured by Terraform.")
    return out


def identity_status(rc):
    """The cluster identity's fate in a few words, for the summary line."""
    change = rc["change"]
    actions = change["actions"]
    if actions == ["create"]:
        return "new cluster identity"
    if actions == ["delete"]:
        return "cluster identity destroyed"
    if sorted(actions) == ["create", "delete"]:
        return "new cluster CA (identity replaced)"
    unknown = change.get("after_unknown") or {}
    if actions == ["update"] and any(unknown.get(a) for a in TOKEN_ATTRS):
        return "bootstrap token rotated"
    return "bootstrap token unchanged"


def apply_diagnostics(nodes, diagnostics):
    """Adds the provider's reboot warnings; returns the other warnings."""
    by_address = {n.address: n for n in nodes}
    by_name = {n.name: n for n in nodes}
    others = []
    for d in diagnostics:
        if d.get("severity") != "warning":
            continue
        if d.get("summary") == REBOOT_SUMMARY:
            node = by_address.get(d.get("address", ""))
            if node is None:  # older Terraform: no address, the detail names the node
                node = next((n for name, n in by_name.items()
                             if f" {name} " in f" {d.get('detail', '')} "), None)
            if node is not None:
                text = "provider: " + d.get("detail", REBOOT_SUMMARY)
                if text not in node.reboot_reasons:
                    node.reboot_reasons.append(text)
                continue
        others.append(d)
    return others


def playbooks(directory):
    """Names of the playbooks the runbook refers to, generic when absent."""
    def has(name):
        return bool(directory) and os.path.isfile(os.path.join(directory, name))
    join = [p for p in ("site.yml", "cluster.yml") if has(p)]
    return {
        "join": " ".join(join) if join else "your node preparation and join playbooks",
        "remove": "remove-node.yml" if has("remove-node.yml") else None,
    }


def node_table(nodes, extra_title, extra):
    if not nodes:
        return []
    rows = ["| node | role | Proxmox node | address | " + extra_title + " |",
            "|---|---|---|---|---|"]
    for n in nodes:
        rows.append(f"| `{n.name}` | {n.role} | {n.host or UNKNOWN} | {n.address_ip or UNKNOWN} "
                    f"| {extra(n)} |")
    return rows


def section(out, title, lines):
    out.append(f"### {title}\n")
    out.extend(lines or ["None."])
    out.append("")


def moves(replaced, updated):
    """Nodes that end up on another Proxmox host: migrated in place, or replaced there."""
    out = []
    for n in updated:
        before = value(n.change, "before", "target_node")
        after = value(n.change, "after", "target_node")
        if before and after and before != after:
            out.append(f"- {n.label()}: {before} → {after} (migrated in place: the same VM, "
                       "online when it runs)")
    for n in replaced:
        if any(list(p) == ["target_node"] for p in n.replace_paths):
            out.append(f"- {n.label()}: {value(n.change, 'before', 'target_node')} → "
                       f"{value(n.change, 'after', 'target_node')} (a new VM, see Replaced)")
    return out


def before_apply(by_kind, books):
    gone = by_kind["removed"] + by_kind["replaced"]
    steps = []
    cp = [n for n in gone if n.control_plane()]
    if cp:
        steps.append("**The control plane node " + ", ".join(n.label() for n in cp) +
                     " is destroyed.** Its etcd and API server go with it: back up etcd, "
                     "or plan to rebuild the cluster and join every node again.")
    for n in gone:
        if books["remove"]:
            # The lab's remove-node.yml drains, resets kubeadm and deletes the Node.
            steps.append(f"Drain `{n.name}` ({n.kind}): `ansible-playbook -i inventory.yml "
                         f"{books['remove']} -e node={n.name}` (drains, resets kubeadm on the "
                         "node and deletes its Node object).")
        else:
            steps.append(f"Drain `{n.name}` ({n.kind}): `{DRAIN.format(n.name)}` (or your "
                         f"remove-node playbook), then `kubectl delete node {n.name}`.")
    for n in by_kind["rebooted"]:
        steps.append(f"Drain `{n.name}` (reboots): `{DRAIN.format(n.name)}`" +
                     (" (the API server is down while it reboots)" if n.control_plane() else ""))
    return steps


def after_apply(by_kind, token_rotated, books):
    new = by_kind["added"] + by_kind["replaced"]
    steps = []
    if new or token_rotated:
        steps.append("Write the inventory again (new addresses or token): "
                     "`terraform output -raw inventory > inventory.yml`.")
    if new:
        limit = ",".join(n.name for n in new)
        if any(n.control_plane() for n in by_kind["replaced"]):
            limit = "all"
        steps.append(f"Prepare and join: `ansible-playbook -i inventory.yml {books['join']} "
                     f"--limit {limit}`.")
    for n in by_kind["rebooted"]:
        steps.append(f"When `{n.name}` is Ready again: `kubectl uncordon {n.name}`.")
    return steps


def numbered(steps):
    return [f"{i}. {s}" for i, s in enumerate(steps, 1)]


def render(doc, diagnostics=None, playbook_dir=None):
    """The review as Markdown; DIAGNOSTICS (None: no plan log given) from load_diagnostics."""
    nodes, cluster_lines, identity = [], [], []
    for rc in doc.get("resource_changes", []):
        if rc.get("mode", "managed") != "managed":
            continue
        if rc.get("type") == NODE_TYPE:
            nodes.append(Node(rc))
        elif rc.get("type") == CLUSTER_TYPE:
            cluster_lines.extend(cluster_findings(rc))
            identity.append(identity_status(rc))
    token_rotated = "bootstrap token rotated" in identity
    for n in nodes:
        n.derive_reboot()
    warnings = apply_diagnostics(nodes, diagnostics or [])
    by_kind = {k: [n for n in nodes if n.kind == k]
               for k in ("added", "removed", "replaced", "forgotten")}
    by_kind["rebooted"] = [n for n in nodes if n.reboot_reasons]
    in_place = [n for n in nodes if n.kind == "updated" and n.other_changes()]
    books = playbooks(playbook_dir)

    out = [MARKER, "## Plan review: what this plan does to the Kubernetes cluster", ""]
    counts = [f"{len(by_kind[k])} {k}" for k in ("added", "removed", "replaced", "rebooted")]
    token = ", ".join(sorted(set(identity))) or "no cluster identity in the plan"
    out += [f"**Nodes:** {', '.join(counts)}; {token}.", ""]
    section(out, f"Nodes added ({len(by_kind['added'])})",
            node_table(by_kind["added"], "size", lambda n: size(n.change)))
    section(out, f"Nodes removed ({len(by_kind['removed'])})",
            node_table(by_kind["removed"], "why", lambda n: REMOVE_REASONS.get(
                n.reason, n.reason or "removed from the configuration")))
    section(out, f"Nodes replaced ({len(by_kind['replaced'])})",
            node_table(by_kind["replaced"], "why (replace paths)", Node.why_replaced))
    section(out, f"Nodes rebooted in place ({len(by_kind['rebooted'])})",
            [f"- {n.label()}: " + "; ".join(n.reboot_reasons) for n in by_kind["rebooted"]])
    moved = moves(by_kind["replaced"], [n for n in nodes if n.kind == "updated"])
    section(out, "Nodes migrated", moved + ([""] if moved else []) + [
        "A changed `target_node` migrates the VM in place (same vmid, MACs and disks)."])
    section(out, "Cluster identity and bootstrap token", [f"- {s}" for s in cluster_lines])
    if in_place or by_kind["forgotten"]:
        section(out, "Other changes to nodes in place",
                [f"- {n.label()}: " + "; ".join(describe_change(n.change, a)
                                                 for a in n.other_changes())
                 for n in in_place] +
                [f"- {n.label()}: forgotten by Terraform; the VM keeps running"
                 for n in by_kind["forgotten"]])
    if warnings:
        section(out, "Other provider warnings",
                [f"- {w.get('summary', '')}: {w.get('detail', '')}" for w in warnings])
    section(out, "Before `terraform apply`", numbered(before_apply(by_kind, books)))
    section(out, "After `terraform apply`", numbered(after_apply(by_kind, token_rotated, books)))
    source = ("the saved plan and the provider's warnings (terraform plan -json)"
              if diagnostics is not None else
              "the saved plan; reboots derived from the attributes the provider "
              "documents as rebooting")
    out.append(f"<sub>From {source}. Sensitive values are never shown.</sub>")
    return "\n".join(out) + "\n"


def size(change):
    parts = []
    for attr in ("memory", "cpu", "disk"):
        v = value(change, "after", attr)
        if v:
            parts.append(f"{attr} {v}")
    return "; ".join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("plan", help="`terraform show -json PLANFILE` output (a file, or - for stdin)")
    p.add_argument("--diagnostics", metavar="PLAN_LOG",
                   help="`terraform plan -json -out=PLANFILE` output, for the provider's warnings")
    p.add_argument("--playbooks", metavar="DIR", default=".",
                   help="folder with the playbooks the runbook names (default: .)")
    p.add_argument("--out", metavar="FILE", help="write the Markdown here (default: stdout)")
    args = p.parse_args(argv)
    try:
        doc = load_plan("/dev/stdin" if args.plan == "-" else args.plan)
        diags = load_diagnostics(args.diagnostics) if args.diagnostics else None
    except PlanError as e:
        print(f"plan_review: {e}", file=sys.stderr)
        return 2
    text = render(doc, diags, args.playbooks)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
