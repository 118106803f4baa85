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

Needs the Python standard library and PyYAML (python3-yaml, which Ansible
depends on); output is deterministic (sorted names, no timestamps, no absolute
paths).
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

import yaml  # python3-yaml

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


def render_provider(schema, version, modules=None, collection=None):
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
    if modules:
        out.append(f"## Ansible modules (collection `{collection}`)\n")
        out.append("The modules that turn the nodes into a Kubernetes cluster; "
                   "`ansible-doc -l " + collection + "` lists them too.\n")
        for name in sorted(modules):
            short = modules[name][1].get("DOCUMENTATION", {}).get("short_description", "")
            line = f"- [`{collection}.{name}`](modules/{name}.md)"
            out.append(line + (f": {inline_markup(short)}" if short else ""))
        out.append("")
    out.append("## Guides\n")
    out.append("- [Bad inputs and their diagnostics](bad-inputs.md): every invalid "
               "configuration and module argument the test suite checks, the stage that "
               "catches it and the exact message.")
    out.append("- [Proxmox VE privileges](proxmox-privileges.md): the minimal role per "
               "Proxmox VE release (9.x, 8.4) as pveum commands, tested against pvesim.")
    out.append("- [Plan review in pull requests](ci-review.md): what a plan does to the "
               "Kubernetes cluster, as a pull-request comment (examples/ci).")
    out.append("- [Publishing a release](publishing.md): the public registry, a private "
               "registry, or a mirror for a lab without Internet.")
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
# YAML through PyYAML (python3-yaml, installed with Ansible anyway).
#
# safe_load resolves scalars as YAML 1.1, as Ansible's own loader does
# (yes/no are booleans, 010 is octal), so a sidecar doc means here what it
# means to ansible-doc. The one addition: a key given twice in a mapping is an
# error, not a silent overwrite, so a doc that says two things fails loudly.

class YamlError(Exception):
    pass


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def yaml_load(text, name="<yaml>"):
    """Parses one YAML document; YamlError names the file and line of a fault."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise YamlError(f"{name}{line}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YamlError(f"{name}: {e}") from None


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
    modules = find_module_docs()
    collection = collection_name() if modules else None
    files = {"index.md": finish(render_provider(schema, version, modules, collection))}
    for key, folder in (("resource_schemas", "resources"), ("data_source_schemas", "data-sources")):
        for name, s in sorted((schema.get(key) or {}).items()):
            files[f"{folder}/{doc_name(name)}.md"] = finish(render_type(name, s["block"], folder))
    if modules:
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
