#!/usr/bin/env python3
"""Generates the reference documentation under docs/ (Terraform Registry layout).

Sources:
  * the provider's own schema, read with `terraform providers schema -json`
    after installing the built provider binary into a throwaway filesystem
    mirror (no network, no change to the user's Terraform configuration);
  * the examples under examples/ (provider/, resources/<type>/,
    data-sources/<type>/), embedded verbatim;
  * the Ansible modules' sidecar documentation (<module>.yml with
    DOCUMENTATION, EXAMPLES and RETURN keys) found under modules/.

Written files (everything else under docs/ is left alone):
  docs/index.md, docs/resources/*.md, docs/data-sources/*.md, docs/modules/*.md

Usage:
  docs/generate.py [--provider BINARY]            regenerate docs/
  docs/generate.py --check [--provider BINARY]    exit 1 with a diff when stale

Only the Python standard library is used; output is deterministic (sorted
names, no timestamps, no absolute paths).
"""

import argparse
import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROVIDER_SOURCE = "registry.terraform.io/gcid/proxmox"
PROVIDER_SHORT = "gcid/proxmox"
TYPE_PREFIX = "proxmox_"
GENERATED_DIRS = ("resources", "data-sources", "modules")


class GenerateError(Exception):
    pass


# --------------------------------------------------------------------------
# Provider schema through the real terraform CLI.

def provider_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise GenerateError(f"cannot run {binary} --version: {e}")
    m = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    if not m:
        raise GenerateError(f"{binary} --version printed no version: {out!r}")
    return m.group(1)


def read_schema(binary, terraform):
    """Returns the provider's schema object from `terraform providers schema -json`."""
    version = provider_version(binary)
    with tempfile.TemporaryDirectory(prefix="pvek8s-docs-") as tmp:
        mirror = os.path.join(tmp, "mirror")
        target = os.path.join(mirror, PROVIDER_SOURCE, version, "linux_amd64")
        os.makedirs(target)
        shutil.copy2(binary, os.path.join(target, f"terraform-provider-proxmox_v{version}"))
        cli_config = os.path.join(tmp, "cli.tfrc")
        with open(cli_config, "w") as f:
            f.write(
                "provider_installation {\n"
                f"  filesystem_mirror {{\n    path    = {json.dumps(mirror)}\n"
                '    include = ["registry.terraform.io/gcid/*"]\n  }\n'
                '  direct {\n    exclude = ["registry.terraform.io/gcid/*"]\n  }\n}\n')
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        with open(os.path.join(work, "main.tf"), "w") as f:
            f.write("terraform {\n  required_providers {\n"
                    f'    proxmox = {{ source = "{PROVIDER_SHORT}", version = "{version}" }}\n'
                    "  }\n}\n")
        env = dict(os.environ)
        for k in ("TF_LOG", "TF_LOG_PATH", "TF_LOG_PROVIDER", "TF_LOG_CORE"):
            env.pop(k, None)
        env.update(TF_CLI_CONFIG_FILE=cli_config, CHECKPOINT_DISABLE="1",
                   TF_IN_AUTOMATION="1", TF_DATA_DIR=os.path.join(work, ".terraform"))
        def run(*args):
            try:
                return subprocess.run([terraform, *args], cwd=work, env=env,
                                      capture_output=True, text=True, timeout=300)
            except OSError as e:
                raise GenerateError(f"cannot run {terraform}: {e}")
        r = run("init", "-input=false", "-no-color", "-backend=false")
        if r.returncode != 0:
            raise GenerateError("terraform init failed:\n" + r.stdout + r.stderr)
        r = run("providers", "schema", "-json")
        if r.returncode != 0:
            raise GenerateError("terraform providers schema failed:\n" + r.stdout + r.stderr)
    try:
        doc = json.loads(r.stdout)
        return doc["provider_schemas"][PROVIDER_SOURCE], version
    except (ValueError, KeyError) as e:
        raise GenerateError(f"unexpected output of terraform providers schema: {e}")


# --------------------------------------------------------------------------
# Markdown rendering of schemas.

def type_name(t):
    """Human name of a cty type as written in the schema JSON."""
    if isinstance(t, str):
        return {"string": "String", "number": "Number", "bool": "Boolean",
                "dynamic": "Dynamic"}.get(t, t)
    kind, inner = t[0], t[1]
    if kind in ("list", "set", "map"):
        return f"{kind.capitalize()} of {type_name(inner)}"
    if kind == "object":
        return "Object"
    if kind == "tuple":
        return "Tuple"
    return str(kind)


def one_line(text):
    return " ".join((text or "").split())


def anchor(path):
    return "nested--" + "--".join(path)


def attr_flags(a):
    flags = []
    if a.get("required"):
        flags.append("Required")
    elif a.get("optional"):
        flags.append("Optional")
    if a.get("computed"):
        flags.append("Computed")
    if a.get("sensitive"):
        flags.append("Sensitive")
    if a.get("write_only"):
        flags.append("Write-only")
    if a.get("deprecated"):
        flags.append("Deprecated")
    return flags


def section_of(a):
    if a.get("required"):
        return "Required"
    if a.get("optional"):
        return "Optional"
    return "Read-Only"


class SchemaWriter:
    """Renders a schema block as grouped bullet lists plus nested sections."""

    def __init__(self):
        self.nested = []  # (path, kind, body) rendered after the top level

    def block(self, block, path, out, heading_level):
        entries = []
        for name, a in sorted(block.get("attributes", {}).items()):
            entries.append((section_of(a), name, self.attribute_line(name, a, path)))
        for name, b in sorted(block.get("block_types", {}).items()):
            required = b.get("min_items", 0) > 0
            entries.append(("Required" if required else "Optional", name,
                            self.block_line(name, b, path)))
        hashes = "#" * heading_level
        for section in ("Required", "Optional", "Read-Only"):
            lines = [line for s, _, line in sorted(entries, key=lambda e: e[1]) if s == section]
            if lines:
                out.append(f"{hashes} {section}\n")
                out.extend(lines)
                out.append("")

    def attribute_line(self, name, a, path):
        nested = a.get("nested_type")
        if nested:
            mode = nested.get("nesting_mode", "single")
            kind = {"single": "Attributes", "list": "List of Attributes",
                    "set": "Set of Attributes", "map": "Map of Attributes"}.get(mode, "Attributes")
            sub = path + [name]
            self.nested.append((sub, "attributes", nested))
            desc = one_line(a.get("description"))
            flags = ", ".join([kind] + attr_flags(a))
            return (f"- `{name}` ({flags}) {desc}".rstrip()
                    + f" See [below for nested schema](#{anchor(sub)}).")
        flags = ", ".join([type_name(a.get("type", "dynamic"))] + attr_flags(a))
        return f"- `{name}` ({flags}) {one_line(a.get('description'))}".rstrip()

    def block_line(self, name, b, path):
        mode = b.get("nesting_mode", "single")
        kind = "Block" if mode in ("single", "group") else f"Block {mode.capitalize()}"
        limits = []
        if b.get("min_items"):
            limits.append(f"Min: {b['min_items']}")
        if b.get("max_items") and mode not in ("single", "group"):
            limits.append(f"Max: {b['max_items']}")
        flags = ", ".join([kind] + limits)
        if b.get("block", {}).get("deprecated"):
            flags += ", Deprecated"
        sub = path + [name]
        self.nested.append((sub, "block", b["block"]))
        desc = one_line(b.get("block", {}).get("description"))
        return (f"- `{name}` ({flags}) {desc}".rstrip()
                + f" See [below for nested schema](#{anchor(sub)}).")

    def render(self, block):
        out = ["## Schema\n"]
        self.block(block, [], out, 3)
        done = 0
        while done < len(self.nested):
            path, kind, body = self.nested[done]
            done += 1
            out.append(f'<a id="{anchor(path)}"></a>')
            out.append(f"### Nested schema for `{'.'.join(path)}`\n")
            if kind == "block" and one_line(body.get("description")):
                out.append(one_line(body.get("description")) + "\n")
            self.block(body, path, out, 4)
        return out


def fenced(lang, text):
    text = text.rstrip("\n")
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}\n"


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def front_matter(title, description):
    desc = one_line(description)
    lines = ["---", f'page_title: "{title}"', 'subcategory: ""']
    if desc:
        lines += ["description: |-", f"  {desc}"]
    lines += ["---", ""]
    return lines


def render_provider(schema, version):
    block = schema["provider"]["block"]
    out = front_matter(f"Provider: {PROVIDER_SHORT}", block.get("description"))
    out.append(f"# The `{PROVIDER_SHORT}` provider\n")
    if block.get("description"):
        out.append(one_line(block["description"]) + "\n")
    out.append(f"This page documents provider version {version}.\n")
    example = os.path.join(ROOT, "examples", "provider", "provider.tf")
    if os.path.exists(example):
        out.append("## Example Usage\n")
        out.append(fenced("terraform", read_text(example)))
    out.extend(SchemaWriter().render(block))
    sections = [("Resources", "resource_schemas", "resources"),
                ("Data Sources", "data_source_schemas", "data-sources")]
    for title, key, folder in sections:
        names = sorted(schema.get(key) or {})
        if names:
            out.append(f"## {title}\n")
            for n in names:
                out.append(f"- [`{n}`]({folder}/{doc_name(n)}.md)")
            out.append("")
    out.append("## Guides\n")
    out.append("- [Bad inputs and their diagnostics](bad-inputs.md): every invalid "
               "configuration and module argument the test suite checks, the stage that "
               "catches it and the exact message.")
    out.append("")
    return out


def doc_name(type_name_):
    if type_name_.startswith(TYPE_PREFIX):
        return type_name_[len(TYPE_PREFIX):]
    return type_name_


def render_type(name, block, kind):
    label = "Resource" if kind == "resources" else "Data Source"
    out = front_matter(f"{name} {label} - {PROVIDER_SHORT}", block.get("description"))
    out.append(f"# {name} ({label})\n")
    if block.get("description"):
        out.append(one_line(block["description"]) + "\n")
    folder = os.path.join(ROOT, "examples", kind, name)
    example = os.path.join(folder, "resource.tf" if kind == "resources" else "data-source.tf")
    if os.path.exists(example):
        out.append("## Example Usage\n")
        out.append(fenced("terraform", read_text(example)))
    out.extend(SchemaWriter().render(block))
    imp = os.path.join(folder, "import.sh")
    if kind == "resources" and os.path.exists(imp):
        out.append("## Import\n")
        out.append(fenced("shell", read_text(imp)))
    return out


# --------------------------------------------------------------------------
# A small YAML reader for module documentation.
#
# Sidecar docs use a small part of YAML: block mappings and sequences, flow
# mappings and sequences, plain and quoted scalars, literal and folded block
# scalars, comments. This reader handles that part and refuses the rest
# (anchors, aliases, tags, several documents) with the line number, so a doc
# it cannot read fails loudly instead of being misread. Scalars resolve as in
# YAML 1.1 (what Ansible's loader does): yes/no/true/false, null/~, ints, floats.

class YamlError(Exception):
    pass


_BOOL = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _resolve_plain(s):
    low = s.lower()
    if s in ("", "~") or low == "null":
        return None
    if low in _BOOL:
        return _BOOL[low]
    if re.fullmatch(r"[-+]?(0|[1-9][0-9_]*)", s):
        return int(s.replace("_", ""))
    if re.fullmatch(r"[-+]?0[0-7_]+", s):  # YAML 1.1 octal
        return int(s.replace("_", ""), 8)
    if re.fullmatch(r"0x[0-9a-fA-F_]+", s):
        return int(s.replace("_", ""), 16)
    if re.fullmatch(r"[-+]?([0-9][0-9_]*)?\.[0-9_]+([eE][-+][0-9]+)?", s):
        return float(s.replace("_", ""))
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    return s


_DQ_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n",
               "v": "\v", "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"',
               "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0"}


class _Yaml:
    def __init__(self, text, name):
        self.name = name
        self.lines = text.replace("\r\n", "\n").split("\n")
        if self.lines[-1] == "":
            self.lines.pop()  # the final newline ends the last line; it is no line of its own
        self.i = 0

    def error(self, msg, line=None):
        n = (self.i if line is None else line) + 1
        return YamlError(f"{self.name}:{n}: {msg}")

    # ---- lines
    @staticmethod
    def _is_blank(line):
        s = line.strip()
        return not s or s.startswith("#")

    def skip_blank(self):
        while self.i < len(self.lines) and self._is_blank(self.lines[self.i]):
            self.i += 1

    def indent(self, line):
        n = len(line) - len(line.lstrip(" "))
        if line[n:n + 1] == "\t":
            raise self.error("tab used for indentation")
        return n

    # ---- document
    def document(self):
        self.skip_blank()
        if self.i < len(self.lines) and self.lines[self.i].rstrip() == "---":
            self.i += 1
        self.skip_blank()
        if self.i >= len(self.lines):
            return None
        value = self.node(self.indent(self.lines[self.i]))
        self.skip_blank()
        if self.i < len(self.lines):
            if self.lines[self.i].startswith("---") or self.lines[self.i].startswith("..."):
                raise self.error("several YAML documents in one file are not supported")
            raise self.error("unexpected text (bad indentation?)")
        return value

    def node(self, indent):
        """Parses the node whose first line is self.i, indented exactly `indent`."""
        line = self.lines[self.i]
        body = line[indent:]
        if body == "-" or body.startswith("- "):
            return self.sequence(indent)
        if self.split_key(body) is not None:
            return self.mapping(indent)
        return self.inline_value(body.strip(), indent - 1, self.i)

    def sequence(self, indent):
        items = []
        while True:
            self.skip_blank()
            if self.i >= len(self.lines):
                break
            line = self.lines[self.i]
            if self.indent(line) != indent:
                if self.indent(line) > indent:
                    raise self.error("bad indentation in a sequence")
                break
            body = line[indent:]
            if not (body == "-" or body.startswith("- ")):
                break
            rest = body[1:]
            if not rest.strip() or rest.strip().startswith("#"):
                self.i += 1
                items.append(self.child(indent, allow_same_indent_seq=False))
                continue
            # "- x": parse x as if the dash were a space (a nested node at its column).
            inner = indent + 1 + (len(rest) - len(rest.lstrip(" ")))
            self.lines[self.i] = " " * inner + rest.lstrip(" ")
            items.append(self.node(inner))
        return items

    def child(self, parent_indent, allow_same_indent_seq):
        """The value on the lines after a 'key:' or '-' that had nothing after it."""
        self.skip_blank()
        if self.i >= len(self.lines):
            return None
        line = self.lines[self.i]
        ind = self.indent(line)
        if ind > parent_indent:
            return self.node(ind)
        body = line[ind:]
        if allow_same_indent_seq and ind == parent_indent and (body == "-" or body.startswith("- ")):
            return self.sequence(ind)
        return None

    @staticmethod
    def split_key(body):
        """Returns (key, rest) when body is 'key: rest' or 'key:', else None."""
        if body[:1] in ('"', "'"):
            q = body[0]
            j = 1
            while j < len(body):
                if body[j] == "\\" and q == '"':
                    j += 2
                    continue
                if body[j] == q:
                    if q == "'" and body[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            else:
                return None
            after = body[j + 1:].lstrip(" ")
            if after == ":" or after.startswith(": "):
                return body[:j + 1], after[1:]
            return None
        if body[:1] in ("[", "{", "#", "|", ">", "&", "*", "!", "%", "@", "`"):
            return None
        m = re.match(r"([^#]*?)\s*:(\s|$)", body)
        if not m or not m.group(1):
            return None
        return m.group(1), body[m.end(1) + 1:]

    def key_value(self, raw):
        raw = raw.strip()
        if raw[:1] in ('"', "'"):
            return self._unquote(raw[1:-1], raw[0])
        return raw

    def mapping(self, indent):
        result = {}
        while True:
            self.skip_blank()
            if self.i >= len(self.lines):
                break
            line = self.lines[self.i]
            ind = self.indent(line)
            if ind != indent:
                if ind > indent:
                    raise self.error("bad indentation in a mapping")
                break
            kv = self.split_key(line[indent:])
            if kv is None:
                break
            key = self.key_value(kv[0])
            if key in result:
                raise self.error(f"duplicate key {key!r}")
            rest = kv[1].strip()
            if not rest or rest.startswith("#"):
                self.i += 1
                result[key] = self.child(indent, allow_same_indent_seq=True)
            else:
                result[key] = self.inline_value(rest, indent, self.i)
        return result

    # ---- values that start on a line
    def inline_value(self, text, parent_indent, line_no):
        """Parses a value starting with `text` on line line_no; consumes its lines."""
        c = text[:1]
        if c in ("&", "*", "!"):
            raise self.error("anchors, aliases and tags are not supported", line_no)
        if c in ("|", ">"):
            return self.block_scalar(text, parent_indent)
        if c in ("[", "{"):
            return self.flow(text, line_no)
        if c in ('"', "'"):
            return self.quoted(text, parent_indent, line_no)
        return self.plain(text, parent_indent)

    def plain(self, text, parent_indent):
        first = re.split(r"\s+#", text, maxsplit=1)[0].strip()
        parts = [first]
        self.i += 1
        # Continuation lines: more indented than the parent, until a blank-run ends.
        pending_newlines = 0
        j = self.i
        while j < len(self.lines):
            line = self.lines[j]
            if not line.strip():
                pending_newlines += 1
                j += 1
                continue
            if self.indent(line) <= parent_indent or line.strip().startswith("#"):
                break
            s = line.strip()
            if self.split_key(s) is not None:
                break
            s = re.split(r"\s+#", s, maxsplit=1)[0].strip()
            parts.append("\n" * pending_newlines if pending_newlines else " ")
            parts.append(s)
            pending_newlines = 0
            j += 1
            self.i = j
        value = "".join(parts)
        if len(parts) > 1:
            return value  # multi-line plain scalars are strings
        return _resolve_plain(value)

    def quoted(self, text, parent_indent, line_no):
        q = text[0]
        buf = text[1:]
        j = line_no
        while True:
            end = self._closing_quote(buf, q)
            if end is not None:
                tail = buf[end + 1:].strip()
                if tail and not tail.startswith("#"):
                    raise self.error("text after a quoted scalar", j)
                raw = buf[:end]
                break
            j += 1
            if j >= len(self.lines):
                raise self.error("unterminated quoted scalar", line_no)
            buf = buf + "\n" + self.lines[j]
        self.i = j + 1
        return self._unquote(raw, q)

    @staticmethod
    def _closing_quote(buf, q):
        k = 0
        while k < len(buf):
            ch = buf[k]
            if q == '"' and ch == "\\":
                k += 2
                continue
            if ch == q:
                if q == "'" and buf[k + 1:k + 2] == "'":
                    k += 2
                    continue
                return k
            k += 1
        return None

    def _unquote(self, raw, q):
        # Line folding: a single newline (with surrounding spaces) becomes a
        # space, n+1 newlines become n newlines.
        lines = raw.split("\n")
        if len(lines) > 1:
            out = lines[0].rstrip(" \t")
            empties = 0
            for ln in lines[1:]:
                s = ln.strip(" \t")
                if not s:
                    empties += 1
                    continue
                out += ("\n" * empties) if empties else " "
                out += s
                empties = 0
            if empties:
                out += "\n" * empties
            raw = out
        if q == "'":
            return raw.replace("''", "'")
        res = []
        k = 0
        while k < len(raw):
            ch = raw[k]
            if ch != "\\":
                res.append(ch)
                k += 1
                continue
            nxt = raw[k + 1:k + 2]
            if nxt in _DQ_ESCAPES:
                res.append(_DQ_ESCAPES[nxt])
                k += 2
            elif nxt in ("x", "u", "U"):
                width = {"x": 2, "u": 4, "U": 8}[nxt]
                res.append(chr(int(raw[k + 2:k + 2 + width], 16)))
                k += 2 + width
            else:
                raise self.error(f"unknown escape \\{nxt}")
        return "".join(res)

    def block_scalar(self, header, parent_indent):
        m = re.fullmatch(r"([|>])([-+]?)([1-9]?)([-+]?)\s*(#.*)?", header)
        if not m:
            raise self.error(f"bad block scalar header {header!r}")
        style = m.group(1)
        chomp = m.group(2) or m.group(4)
        explicit = int(m.group(3)) if m.group(3) else None
        self.i += 1
        block_indent = None
        if explicit is not None:
            block_indent = max(parent_indent, 0) + explicit
        lines = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                lines.append("")
                self.i += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if block_indent is None:
                if ind <= parent_indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            lines.append(line[block_indent:])
            self.i += 1
        # Trailing blank lines belong to the chomping, not to the next node.
        trailing = 0
        while lines and lines[-1] == "":
            lines.pop()
            trailing += 1
        if style == "|":
            body = "\n".join(lines)
        else:
            body = self._fold(lines)
        if not lines:
            return "" if chomp != "+" else "\n" * trailing
        if chomp == "-":
            return body
        if chomp == "+":
            return body + "\n" + "\n" * trailing
        return body + "\n"

    @staticmethod
    def _fold(lines):
        """Folds block-scalar lines: a single break between two normal lines
        becomes a space, k empty lines between them become k breaks, and
        breaks next to a more-indented line are kept."""
        out = ""
        prev = None  # the previous non-empty line
        empties = 0
        for ln in lines:
            if ln == "":
                empties += 1
                continue
            if prev is None:
                out += "\n" * empties
            else:
                more = ln[:1] in (" ", "\t") or prev[:1] in (" ", "\t")
                if more:
                    out += "\n" * (empties + 1)
                else:
                    out += "\n" * empties if empties else " "
            out += ln
            prev = ln
            empties = 0
        return out

    # ---- flow collections
    def flow(self, text, line_no):
        buf = text
        j = line_no
        while True:
            try:
                value, pos = _Flow(buf).parse()
                tail = buf[pos:].strip()
                if tail and not tail.startswith("#"):
                    raise self.error("text after a flow collection", j)
                self.i = j + 1
                return value
            except _FlowIncomplete:
                j += 1
                if j >= len(self.lines):
                    raise self.error("unterminated flow collection", line_no)
                buf += " " + self.lines[j].strip()
            except _FlowBad as e:
                raise self.error(f"flow collection: {e}", j)


class _FlowIncomplete(Exception):
    pass


class _FlowBad(Exception):
    pass


class _Flow:
    def __init__(self, s):
        self.s = s
        self.k = 0

    def ws(self):
        while self.k < len(self.s) and self.s[self.k] in " \t":
            self.k += 1
        if self.k >= len(self.s):
            raise _FlowIncomplete()

    def parse(self):
        v = self.value()
        return v, self.k

    def value(self):
        self.ws()
        c = self.s[self.k]
        if c == "[":
            self.k += 1
            items = []
            while True:
                self.ws()
                if self.s[self.k] == "]":
                    self.k += 1
                    return items
                items.append(self.value())
                self.ws()
                if self.s[self.k] == ",":
                    self.k += 1
                elif self.s[self.k] != "]":
                    raise _FlowBad(f"expected , or ] at {self.s[self.k:]!r}")
        if c == "{":
            self.k += 1
            result = {}
            while True:
                self.ws()
                if self.s[self.k] == "}":
                    self.k += 1
                    return result
                key = self.value()
                self.ws()
                if self.s[self.k] == ":":
                    self.k += 1
                    self.ws()
                    val = None if self.s[self.k] in ",}" else self.value()
                else:
                    val = None
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise _FlowBad("complex keys are not supported")
                result[key] = val
                self.ws()
                if self.s[self.k] == ",":
                    self.k += 1
                elif self.s[self.k] != "}":
                    raise _FlowBad(f"expected , or }} at {self.s[self.k:]!r}")
        if c in ('"', "'"):
            end = _Yaml._closing_quote(self.s[self.k + 1:], c)
            if end is None:
                raise _FlowIncomplete()
            raw = self.s[self.k + 1:self.k + 1 + end]
            self.k += end + 2
            return _Yaml("", "flow")._unquote(raw, c)
        if c in ("&", "*", "!"):
            raise _FlowBad("anchors, aliases and tags are not supported")
        start = self.k
        while self.k < len(self.s):
            ch = self.s[self.k]
            if ch in ",]}":
                break
            if ch == ":" and (self.k + 1 >= len(self.s) or self.s[self.k + 1] in " ,]}"):
                break
            if ch == "#" and self.s[self.k - 1] in " \t":
                raise _FlowBad("comment inside a flow collection")
            self.k += 1
        return _resolve_plain(self.s[start:self.k].strip())


def yaml_load(text, name="<yaml>"):
    return _Yaml(text, name).document()


# --------------------------------------------------------------------------
# Module docs.

def collection_name():
    galaxy = os.path.join(ROOT, "modules", "collection", "galaxy.yml")
    if os.path.exists(galaxy):
        try:
            g = yaml_load(read_text(galaxy), galaxy) or {}
            if g.get("namespace") and g.get("name"):
                return f"{g['namespace']}.{g['name']}"
        except YamlError:
            pass
    return "gcid.k8s"


def find_module_docs():
    """Returns {module name: (relative path, parsed sidecar)} for every sidecar doc."""
    patterns = [os.path.join(ROOT, "modules", "collection", "**", "plugins", "modules", "*.yml"),
                os.path.join(ROOT, "modules", "collection", "**", "plugins", "modules", "*.yaml"),
                os.path.join(ROOT, "modules", "*", "*.yml"),
                os.path.join(ROOT, "modules", "*", "*.yaml")]
    paths = sorted({p for pat in patterns for p in glob.glob(pat, recursive=True)})
    found = {}
    for path in paths:
        text = read_text(path)
        if not re.search(r"^DOCUMENTATION\s*:", text, re.M):
            continue
        rel = os.path.relpath(path, ROOT)
        try:
            doc = yaml_load(text, rel)
        except YamlError as e:
            raise GenerateError(f"cannot read module documentation: {e}")
        if not isinstance(doc, dict):
            continue
        for key in ("DOCUMENTATION", "RETURN"):
            if isinstance(doc.get(key), str):  # the Python-module style: YAML in a string
                try:
                    doc[key] = yaml_load(doc[key], f"{rel} ({key})")
                except YamlError as e:
                    raise GenerateError(f"cannot read module documentation: {e}")
        documentation = doc.get("DOCUMENTATION")
        if not isinstance(documentation, dict):
            raise GenerateError(f"{rel}: DOCUMENTATION is not a mapping")
        name = documentation.get("module") or os.path.splitext(os.path.basename(path))[0]
        if name in found:
            if found[name][1] != doc:
                raise GenerateError(f"module {name} is documented twice, differently: "
                                    f"{found[name][0]} and {rel}")
            continue
        found[name] = (rel, doc)
    return found


# An argument may hold one level of parentheses: C(/lib/modules/$(uname -r)).
_ARG = r"((?:[^()]|\([^()]*\))*)"
_MARKUP = [
    (re.compile(r"\bI\(" + _ARG + r"\)"), r"*\1*"),
    (re.compile(r"\bB\(" + _ARG + r"\)"), r"**\1**"),
    (re.compile(r"\b(?:C|M|O|V|E|RV)\(" + _ARG + r"\)"), r"`\1`"),
    (re.compile(r"\bU\(([^)]*)\)"), r"<\1>"),
    (re.compile(r"\bL\(([^,)]*),\s*([^)]*)\)"), r"[\1](\2)"),
    (re.compile(r"\bHORIZONTALLINE\b"), "---"),
]


def markup(text):
    """Ansible doc markup (I(), C(), B(), U(), L(), M(), O(), V(), RV()) to Markdown."""
    if text is None:
        return ""
    if isinstance(text, list):
        return "\n\n".join(markup(t) for t in text)
    s = str(text)
    for pat, rep in _MARKUP:
        s = pat.sub(rep, s)
    return s


def inline_markup(text):
    return " ".join(markup(text).split()) if not isinstance(text, list) else \
        " ".join(" ".join(markup(t).split()) for t in text)


def scalar_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def render_options(options, out, depth):
    pad = "  " * depth
    for name in sorted(options or {}):
        o = options[name]
        if not isinstance(o, dict):
            o = {"description": o}
        facts = [o.get("type", "str")]
        if o.get("elements"):
            facts[0] = f"{facts[0]} of {o['elements']}"
        facts.append("required" if o.get("required") else "optional")
        if "default" in o:
            facts.append(f"default `{scalar_text(o['default'])}`")
        if o.get("no_log"):
            facts.append("secret")
        line = f"{pad}- `{name}` ({', '.join(facts)}) {inline_markup(o.get('description'))}".rstrip()
        out.append(line)
        if o.get("choices"):
            choices = o["choices"]
            if isinstance(choices, dict):
                out.append(f"{pad}  Choices:")
                for c in sorted(choices, key=scalar_text):
                    out.append(f"{pad}  - `{scalar_text(c)}`: {inline_markup(choices[c])}".rstrip())
            else:
                out.append(f"{pad}  Choices: " + ", ".join(f"`{scalar_text(c)}`" for c in choices) + ".")
        if o.get("aliases"):
            out.append(f"{pad}  Aliases: " + ", ".join(f"`{a}`" for a in o["aliases"]) + ".")
        if o.get("suboptions"):
            render_options(o["suboptions"], out, depth + 1)


def render_returns(returns, out, depth):
    pad = "  " * depth
    for name in sorted(returns or {}):
        r = returns[name]
        if not isinstance(r, dict):
            r = {"description": r}
        facts = [r.get("type", "str")]
        if r.get("elements"):
            facts[0] = f"{facts[0]} of {r['elements']}"
        if r.get("returned"):
            facts.append(f"returned {' '.join(str(r['returned']).split())}")
        out.append(f"{pad}- `{name}` ({', '.join(facts)}) {inline_markup(r.get('description'))}".rstrip())
        if "sample" in r:
            out.append(f"{pad}  Sample: `{scalar_text(r['sample'])}`")
        if r.get("contains"):
            render_returns(r["contains"], out, depth + 1)


def render_module(name, rel, doc, collection):
    d = doc["DOCUMENTATION"]
    fqcn = f"{collection}.{name}"
    out = ["---", f'page_title: "{fqcn} module"']
    if d.get("short_description"):
        out += ["description: |-", f"  {inline_markup(d['short_description'])}"]
    out += ["---", "", f"# `{fqcn}`\n"]
    if d.get("short_description"):
        out.append(f"**{inline_markup(d['short_description'])}**\n")
    if d.get("description"):
        desc = d["description"]
        for para in (desc if isinstance(desc, list) else [desc]):
            out.append(inline_markup(para) + "\n")
    if d.get("version_added"):
        out.append(f"Added in version {d['version_added']}.\n")
    if d.get("requirements"):
        out.append("## Requirements\n")
        out.extend(f"- {inline_markup(r)}" for r in d["requirements"])
        out.append("")
    out.append("## Parameters\n")
    if d.get("options"):
        render_options(d["options"], out, 0)
    else:
        out.append("This module takes no parameters.")
    out.append("")
    attributes = d.get("attributes") or {}
    if attributes:
        out.append("## Attributes\n")
        for a in sorted(attributes):
            v = attributes[a] or {}
            support = v.get("support", "") if isinstance(v, dict) else scalar_text(v)
            details = inline_markup(v.get("details")) if isinstance(v, dict) else ""
            out.append(f"- `{a}`: {support}{('. ' + details) if details else ''}".rstrip())
        out.append("")
    if d.get("notes"):
        out.append("## Notes\n")
        out.extend(f"- {inline_markup(n)}" for n in d["notes"])
        out.append("")
    if doc.get("EXAMPLES"):
        out.append("## Examples\n")
        out.append(fenced("yaml", str(doc["EXAMPLES"]).strip("\n")))
    if doc.get("RETURN"):
        out.append("## Return Values\n")
        render_returns(doc["RETURN"], out, 0)
        out.append("")
    if d.get("seealso"):
        out.append("## See Also\n")
        for s in d["seealso"]:
            if isinstance(s, dict) and s.get("module"):
                out.append(f"- `{s['module']}`" + (f": {inline_markup(s.get('description'))}"
                                                     if s.get("description") else ""))
            elif isinstance(s, dict) and s.get("link"):
                out.append(f"- [{s.get('name', s['link'])}]({s['link']})")
        out.append("")
    out.append(f"_Generated from `{rel}`._")
    return out


# --------------------------------------------------------------------------
# Driver.

def finish(lines):
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    return text


def generate(schema, version, out_dir):
    """Writes every generated file under out_dir; returns their relative paths."""
    files = {"index.md": finish(render_provider(schema, version))}
    for key, folder in (("resource_schemas", "resources"), ("data_source_schemas", "data-sources")):
        for name, s in sorted((schema.get(key) or {}).items()):
            files[f"{folder}/{doc_name(name)}.md"] = finish(render_type(name, s["block"], folder))
    modules = find_module_docs()
    if modules:
        collection = collection_name()
        for name in sorted(modules):
            rel, doc = modules[name]
            files[f"modules/{name}.md"] = finish(render_module(name, rel, doc, collection))
    for rel, text in files.items():
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return sorted(files)


def existing_generated(docs_dir):
    found = []
    if os.path.exists(os.path.join(docs_dir, "index.md")):
        found.append("index.md")
    for folder in GENERATED_DIRS:
        for p in sorted(glob.glob(os.path.join(docs_dir, folder, "*.md"))):
            found.append(f"{folder}/{os.path.basename(p)}")
    return sorted(found)


def stale_report(docs_dir, schema, version):
    """Returns the diff (list of lines) between docs_dir and freshly generated docs."""
    with tempfile.TemporaryDirectory(prefix="pvek8s-docs-check-") as tmp:
        wanted = generate(schema, version, tmp)
        have = existing_generated(docs_dir)
        problems = []
        for rel in sorted(set(wanted) | set(have)):
            new_path = os.path.join(tmp, rel)
            old_path = os.path.join(docs_dir, rel)
            new = read_text(new_path).splitlines(keepends=True) if rel in wanted else []
            old = read_text(old_path).splitlines(keepends=True) if os.path.exists(old_path) else []
            if rel not in wanted:
                problems.append(f"docs/{rel} is no longer generated (delete it)\n")
            elif not os.path.exists(old_path):
                problems.append(f"docs/{rel} is missing\n")
            if new != old:
                problems.extend(difflib.unified_diff(old, new, f"a/docs/{rel}", f"b/docs/{rel}"))
        return problems, len(wanted)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--provider", default=os.path.join(ROOT, "build", "provider",
                                                      "terraform-provider-proxmox"),
                   help="the built provider binary (default: build/provider/...)")
    p.add_argument("--terraform", default=shutil.which("terraform") or "terraform",
                   help="terraform CLI to use (default: from PATH)")
    p.add_argument("--docs-dir", default=os.path.join(ROOT, "docs"),
                   help="where generated docs live (default: docs/ of this checkout)")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 with a diff when the docs are stale")
    args = p.parse_args(argv)

    try:
        if not os.path.exists(args.provider):
            raise GenerateError(f"provider binary {args.provider} does not exist; "
                                "build it first (bash .ci/build)")
        schema, version = read_schema(os.path.abspath(args.provider), args.terraform)
        if not args.check:
            wanted = generate(schema, version, args.docs_dir)
            for rel in existing_generated(args.docs_dir):
                if rel not in wanted:
                    os.remove(os.path.join(args.docs_dir, rel))
                    print(f"removed stale {rel}")
            print(f"wrote {len(wanted)} files under {args.docs_dir}")
            return 0
        problems, count = stale_report(args.docs_dir, schema, version)
        if problems:
            sys.stdout.write("".join(problems))
            provider = os.path.abspath(args.provider)
            if provider.startswith(ROOT + os.sep):
                provider = os.path.relpath(provider, ROOT)
            print("\nThe generated docs are stale (the provider schema, an example or a "
                  "module's sidecar doc changed).\nRegenerate them from the top of the "
                  f"checkout and commit the result:\n  python3 docs/generate.py --provider {provider}")
            return 1
        print(f"docs are up to date ({count} generated files)")
        return 0
    except GenerateError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
