#!/usr/bin/env python3
"""Unit tests of plan_review.py on a crafted `terraform show -json` document.

testdata/plan.json: a cluster whose token_ttl changes (token rotated) and
nodes cp1 (control plane, memory: reboot), w1 (target_node: replaced), w2
(removed), w4 (added), w5 (nameservers: cloud-init reboot), w6 (nameservers
under on_cloudinit_change = "ignore": no reboot), w7 (tags and a sensitive
description), w8 (memory of a stopped VM: no reboot), and a data source read.
testdata/plan-log.jsonl: `terraform plan -json` lines with two reboot
warnings (one for w7, which the attribute rule does not see) and another.
"""

import io
import json
import os
import re
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import plan_review  # noqa: E402

PLAN = os.path.join(HERE, "testdata", "plan.json")
LOG = os.path.join(HERE, "testdata", "plan-log.jsonl")
LAB = os.path.join(HERE, "..", "lab")
ROOT = os.path.join(HERE, "..", "..")
WORKFLOW = os.path.join(HERE, "github-actions.yml")


def section(text, title):
    """The body of the ### section whose title starts with TITLE."""
    m = re.search(r"^### " + re.escape(title) + r".*?\n(.*?)(?=^### |\Z)", text, re.M | re.S)
    if not m:
        raise AssertionError(f"no section {title!r} in:\n{text}")
    return m.group(1)


def secrets(doc):
    """Every value a before/after_sensitive mask marks, as strings."""
    out = []
    for rc in doc["resource_changes"]:
        ch = rc["change"]
        for side in ("before", "after"):
            for attr, mask in (ch.get(side + "_sensitive") or {}).items():
                v = (ch.get(side) or {}).get(attr)
                if mask is True and isinstance(v, str):
                    out.append(v)
    return out


class PlanReviewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = plan_review.load_plan(PLAN)
        cls.text = plan_review.render(cls.doc, [], LAB)
        cls.with_log = plan_review.render(cls.doc, plan_review.load_diagnostics(LOG), LAB)

    def test_summary_counts(self):
        self.assertIn("**Nodes:** 1 added, 1 removed, 1 replaced, 2 rebooted; "
                      "bootstrap token rotated.", self.text)

    def test_added_removed(self):
        self.assertIn("| `w4` | worker | pve2 | 10.9.0.15 |", section(self.text, "Nodes added"))
        removed = section(self.text, "Nodes removed")
        self.assertIn("| `w2` | worker | pve3 | 10.9.0.13 | its for_each key is gone |", removed)
        self.assertNotIn("w4", removed)

    def test_replaced_with_replace_paths(self):
        replaced = section(self.text, "Nodes replaced")
        self.assertIn("| `w1` | worker | pve3 | 10.9.0.12 | `target_node` pve2 → pve3 |",
                      replaced)
        self.assertIn("- `w1`: pve2 → pve3 (a new VM", section(self.text, "Nodes migrated"))

    def test_reboots_follow_the_provider_rule(self):
        rebooted = section(self.text, "Nodes rebooted")
        self.assertIn("- `cp1` (control plane): hardware: `memory` 2048 → 4096", rebooted)
        self.assertIn("- `w5`: cloud-init: `nameservers` [1.1.1.1] → [8.8.8.8]", rebooted)
        for quiet in ("w6", "w8", "w7"):  # ignore policy, stopped VM, no rebooting attribute
            self.assertNotIn(f"`{quiet}`", rebooted)
        other = section(self.text, "Other changes")
        self.assertIn("- `w6`: `nameservers`", other)
        self.assertIn("- `w8`: `memory` 1024 → 2048", other)

    def test_provider_warnings_are_merged(self):
        rebooted = section(self.with_log, "Nodes rebooted")
        self.assertIn("- `w7`: provider: Cloud-init settings of w7 change", rebooted)
        self.assertIn("provider: CPU or memory of cp1", rebooted)
        self.assertIn("3 rebooted", self.with_log)
        self.assertIn("- Bootstrap token expired:", section(self.with_log, "Other provider"))
        self.assertNotIn("Other provider", self.text)

    def test_token_rotation(self):
        ident = section(self.text, "Cluster identity")
        self.assertIn("Bootstrap token of `lab` is rotated (`token_ttl` 24h → 48h): "
                      "new value (sensitive)", ident)

    def test_runbook(self):
        before = section(self.text, "Before `terraform apply`")
        # The lab has remove-node.yml, which drains, resets and deletes the Node.
        self.assertRegex(before, r"1\. Drain `w2` \(removed\): `ansible-playbook -i inventory.yml "
                                 r"remove-node.yml -e node=w2` .*deletes its Node object")
        self.assertRegex(before, r"2\. Drain `w1` \(replaced\)")
        self.assertRegex(before, r"Drain `cp1` \(reboots\).*API server is down")
        after = section(self.text, "After `terraform apply`")
        self.assertIn("`terraform output -raw inventory > inventory.yml`", after)
        self.assertIn("`ansible-playbook -i inventory.yml site.yml cluster.yml --limit w4,w1`",
                      after)
        self.assertIn("`kubectl uncordon w5`", after)

    def test_remove_playbook_named_when_present(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("site.yml", "remove-node.yml"):
                open(os.path.join(d, name), "w").close()
            text = plan_review.render(self.doc, [], d)
        before = section(text, "Before `terraform apply`")
        self.assertIn("`ansible-playbook -i inventory.yml remove-node.yml -e node=w2`", before)
        generic_before = section(plan_review.render(self.doc, [], None), "Before `terraform apply`")
        self.assertRegex(generic_before, r"1\. Drain `w2` \(removed\): `kubectl drain w2 .*"
                                         r"`kubectl delete node w2`")
        self.assertIn("--limit w4,w1", text)
        self.assertNotIn("cluster.yml", text)
        generic = plan_review.render(self.doc, [], None)
        self.assertIn("your node preparation and join playbooks", generic)

    def test_no_sensitive_value_printed(self):
        found = secrets(self.doc)
        self.assertGreaterEqual(len(found), 6, found)  # token, CA key, cert key, config, desc
        for text in (self.text, self.with_log):
            for s in found:
                self.assertNotIn(s, text)
            self.assertNotIn("FIXTURE", text)
            self.assertNotIn("fxtokn", text)
        self.assertIn("`description` (sensitive)", section(self.text, "Other changes"))

    def test_no_change(self):
        noop = {"address": "proxmox_k8s_cluster.lab", "mode": "managed",
                "type": "proxmox_k8s_cluster", "change": {"actions": ["no-op"]}}
        doc = {"format_version": "1.2", "planned_values": {}, "resource_changes": [noop]}
        text = plan_review.render(doc)
        self.assertIn("0 added, 0 removed, 0 replaced, 0 rebooted; bootstrap token unchanged",
                      text)
        self.assertIn("None.", section(text, "Before"))
        self.assertIn("None.", section(text, "After"))

    def test_cluster_identity_created_and_replaced(self):
        def one(actions, **change):
            rc = {"address": "proxmox_k8s_cluster.lab", "mode": "managed",
                  "type": "proxmox_k8s_cluster",
                  "change": dict({"actions": actions, "before": {"name": "lab"},
                                  "after": {"name": "lab"}}, **change)}
            return plan_review.render({"format_version": "1.2", "planned_values": {},
                                       "resource_changes": [rc]})
        self.assertIn("; new cluster identity.", one(["create"]))
        replaced = one(["delete", "create"], replace_paths=[["ca_algorithm"]])
        self.assertIn("; new cluster CA (identity replaced).", replaced)
        self.assertIn("replaced (`ca_algorithm`): a new CA.** Every node must be reset",
                      section(replaced, "Cluster identity"))

    def test_bad_inputs_name_the_field(self):
        cases = {
            "not json": "not JSON",
            json.dumps({"values": {}}): "no format_version",
            json.dumps({"format_version": "1.0", "values": {}}): "no planned_values",
            json.dumps({"format_version": "1.2", "planned_values": {},
                        "resource_changes": [{"address": "x", "change": {}}]}):
                "resource_changes[0].change.actions is missing",
        }
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "in.json")
            for content, message in cases.items():
                with open(path, "w") as f:
                    f.write(content)
                err = io.StringIO()
                with redirect_stderr(err):
                    rc = plan_review.main([path])
                self.assertEqual(rc, 2, content)
                self.assertIn(message, err.getvalue())
            with open(path, "w") as f:
                f.write("{broken\n")
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertEqual(plan_review.main([PLAN, "--diagnostics", path]), 2)
            self.assertIn(":1: not a JSON line", err.getvalue())

    def test_cli_writes_out(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "review.md")
            self.assertEqual(plan_review.main([PLAN, "--diagnostics", LOG, "--playbooks", LAB,
                                               "--out", out]), 0)
            with open(out) as f:
                text = f.read()
        self.assertTrue(text.startswith(plan_review.MARKER))
        self.assertEqual(text, self.with_log)


class WorkflowTest(unittest.TestCase):
    """github-actions.yml: the steps it promises, and the files it names exist."""

    def test_workflow(self):
        import yaml  # python3-yaml, which ansible-core depends on
        with open(WORKFLOW) as f:
            wf = yaml.safe_load(f)
        self.assertIn("pull_request", wf.get("on", wf.get(True)))  # YAML 1.1 reads on: as True
        env = wf["env"]
        self.assertTrue(os.path.isdir(os.path.join(ROOT, env["TF_DIR"])), env["TF_DIR"])
        self.assertTrue(os.path.isfile(os.path.join(ROOT, env["CI_DIR"], "review-locally.sh")))
        self.assertTrue(os.path.isfile(os.path.join(ROOT, env["CI_DIR"], "plan_review.py")))
        steps = wf["jobs"]["review"]["steps"]
        runs = "\n".join(s.get("run", "") for s in steps)
        self.assertIn("for p in pvek8s-terraform-provider pvek8s-ansible-collection pvek8s-pvesim", runs)
        self.assertIn('review-locally.sh" --pvesim /usr/bin/pvesim --test', runs)
        post = [s for s in steps if s.get("uses", "").startswith("actions/github-script")]
        self.assertEqual(len(post), 1)
        self.assertIn(f"'{plan_review.MARKER}'", post[0]["with"]["script"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
