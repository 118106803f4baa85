#!/usr/bin/env python3
"""Unit tests of docs/generate.py: reading YAML, schema and module rendering,
and the staleness report. No terraform and no provider binary are needed."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402

SIDE_CAR = """\
DOCUMENTATION:
  module: demo
  short_description: Demo module (C++ binary)
  description:
    - First paragraph with I(italic) and C(/lib/modules/$(uname -r)).
    - "Second: quoted"
  version_added: "0.1.0"
  options:
    profile:
      description: Which profile.
      type: str
      choices: [a, 'b', "c"]
      default: a
    sysctl: {description: Keys., type: dict, default: {}}
    swap:
      type: bool
      default: yes
    folded:
      description: >-
        one
        two

        three
    literal:
      description: |
        keep
          this
    token:
      description: Secret.
      type: str
      required: true
      no_log: true
  attributes:
    check_mode: {support: full}
  notes:
  - a note  # a comment
  - 'it''s'
EXAMPLES: |
  - name: demo
    gcid.k8s.demo:
      profile: b   # kept

  - x: 1
RETURN:
  changed_keys: {description: Keys., type: list, elements: str, returned: always, sample: [x, y]}
  nested:
    type: dict
    contains:
      n: {type: int, sample: 3}
  ver: 1.26
  empty:
  multi: plain text
    continues
"""

class YamlLoadTest(unittest.TestCase):
    """The thin layer over PyYAML: YAML 1.1 scalars, and faults named by file and line."""

    def test_yaml_1_1_scalars_as_ansible_reads_them(self):
        self.assertEqual(generate.yaml_load("a: yes\nb: 010\nc: '1.0'\nd: ~\n"),
                         {"a": True, "b": 8, "c": "1.0", "d": None})

    def test_faults_name_file_and_line(self):
        for text, where in [("a: 1\na: 2\n", ":2: duplicate key 'a'"),
                            ("k:\n  x: 1\n  y: {z: 2}\n  x: 3\n", ":4: duplicate key 'x'"),
                            ("a: 1\n  b: 2\n", ":2:"), ("a: [1, 2\n", ":2:")]:
            with self.subTest(text=text):
                with self.assertRaises(generate.YamlError) as ctx:
                    generate.yaml_load(text, "t.yml")
                self.assertIn("t.yml" + where, str(ctx.exception))


SCHEMA = {
    "provider": {"block": {
        "description": "Provider.",
        "attributes": {"endpoint": {"type": "string", "description": "URL.", "optional": True},
                       "secret": {"type": "string", "description": "S.", "optional": True,
                                  "sensitive": True}},
    }},
    "resource_schemas": {"proxmox_thing": {"block": {
        "description": "A thing.",
        "attributes": {
            "name": {"type": "string", "description": "Name.", "required": True},
            "tags": {"type": ["list", "string"], "description": "Tags.", "optional": True,
                     "computed": True},
            "id": {"type": "string", "description": "Id.", "computed": True},
            "pw": {"type": "string", "description": "Password.", "optional": True,
                   "write_only": True},
            "disks": {"nested_type": {"nesting_mode": "map", "attributes": {
                "size": {"type": "number", "description": "GiB.", "required": True}}},
                "description": "Disks.", "optional": True},
        },
        "block_types": {"net": {"nesting_mode": "list", "min_items": 1, "max_items": 4,
                                "block": {"description": "NIC.", "attributes": {
                                    "bridge": {"type": "string", "description": "Bridge.",
                                               "required": True}}}}},
    }}},
    "data_source_schemas": {"proxmox_nodes": {"block": {
        "attributes": {"names": {"type": ["set", "string"], "description": "Nodes.",
                                 "computed": True}}}}},
}


class RenderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def read(self, rel):
        with open(os.path.join(self.tmp.name, rel), encoding="utf-8") as f:
            return f.read()

    def test_layout_and_content(self):
        files = generate.generate(SCHEMA, "9.9.9", self.tmp.name)
        self.assertIn("index.md", files)
        self.assertIn("resources/thing.md", files)
        self.assertIn("data-sources/nodes.md", files)
        index = self.read("index.md")
        self.assertIn("- `secret` (String, Optional, Sensitive) S.", index)
        self.assertIn("provider version 9.9.9", index)
        self.assertIn("[`proxmox_thing`](resources/thing.md)", index)
        thing = self.read("resources/thing.md")
        self.assertIn("# proxmox_thing (Resource)", thing)
        self.assertIn("### Required\n\n- `name` (String, Required) Name.\n"
                      "- `net` (Block List, Min: 1, Max: 4) NIC.", thing)
        self.assertIn("- `tags` (List of String, Optional, Computed) Tags.", thing)
        self.assertIn("- `pw` (String, Optional, Write-only) Password.", thing)
        self.assertIn("### Read-Only\n\n- `id` (String, Computed) Id.", thing)
        self.assertIn("- `disks` (Map of Attributes, Optional) Disks. See [below for nested "
                      "schema](#nested--disks).", thing)
        self.assertIn('<a id="nested--net"></a>\n### Nested schema for `net`\n\nNIC.\n\n'
                      "#### Required\n\n- `bridge` (String, Required) Bridge.", thing)
        self.assertIn("#### Required\n\n- `size` (Number, Required) GiB.", thing)
        self.assertIn("(Set of String, Computed) Nodes.", self.read("data-sources/nodes.md"))
        # The index links every module page of the collection found under modules/.
        modules = [f for f in files if f.startswith("modules/")]
        self.assertTrue(modules)
        for rel in modules:
            name = os.path.basename(rel)[:-3]
            self.assertIn(f"- [`gcid.k8s.{name}`]({rel})", index)

    def test_deterministic(self):
        first = {}
        generate.generate(SCHEMA, "1.0.0", self.tmp.name)
        for rel in generate.existing_generated(self.tmp.name):
            first[rel] = self.read(rel)
        generate.generate(SCHEMA, "1.0.0", self.tmp.name)
        for rel, text in first.items():
            self.assertEqual(self.read(rel), text)

    def test_module_page(self):
        doc = generate.yaml_load(SIDE_CAR)
        page = generate.finish(generate.render_module("demo", "modules/demo/demo.yml", doc,
                                                      "gcid.k8s"))
        self.assertIn("# `gcid.k8s.demo`", page)
        self.assertIn("First paragraph with *italic* and `/lib/modules/$(uname -r)`.", page)
        self.assertIn("- `profile` (str, optional, default `a`) Which profile.\n"
                      "  Choices: `a`, `b`, `c`.", page)
        self.assertIn("- `swap` (bool, optional, default `true`)", page)
        self.assertIn("- `token` (str, required, secret) Secret.", page)
        self.assertIn("```yaml\n- name: demo\n", page)
        self.assertIn("- `changed_keys` (list of str, returned always) Keys.\n"
                      '  Sample: `["x", "y"]`', page)
        self.assertIn("  - `n` (int)\n    Sample: `3`", page)

    def test_no_module_docs_is_fine(self):
        saved = generate.ROOT
        generate.ROOT = self.tmp.name  # a checkout without modules/ or examples/
        try:
            files = generate.generate(SCHEMA, "1.0.0", os.path.join(self.tmp.name, "out"))
        finally:
            generate.ROOT = saved
        self.assertFalse([f for f in files if f.startswith("modules/")])
        self.assertIn("resources/thing.md", files)

    def test_stale_report(self):
        docs = os.path.join(self.tmp.name, "docs")
        generate.generate(SCHEMA, "1.0.0", docs)
        problems, _ = generate.stale_report(docs, SCHEMA, "1.0.0")
        self.assertEqual(problems, [])
        # An edited page, a missing page and a page for a type that is gone.
        with open(os.path.join(docs, "resources", "thing.md"), "a") as f:
            f.write("hand edit\n")
        os.remove(os.path.join(docs, "data-sources", "nodes.md"))
        with open(os.path.join(docs, "resources", "gone.md"), "w") as f:
            f.write("old\n")
        report = "".join(generate.stale_report(docs, SCHEMA, "1.0.0")[0])
        self.assertIn("-hand edit", report)
        self.assertIn("docs/data-sources/nodes.md is missing", report)
        self.assertIn("docs/resources/gone.md is no longer generated", report)
        # A schema change shows up as a diff too.
        changed = {**SCHEMA, "provider": {"block": {"description": "Provider, changed."}}}
        generate.generate(SCHEMA, "1.0.0", docs)
        os.remove(os.path.join(docs, "resources", "gone.md"))
        report = "".join(generate.stale_report(docs, changed, "1.0.0")[0])
        self.assertIn("+Provider, changed.", report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
