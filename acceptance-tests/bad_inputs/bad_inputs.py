#!/usr/bin/env python3
"""The bad-input table: invalid configurations and module arguments, each with
the exact diagnostic it produces.

cases.toml (next to this file) is the single source. This script
  * renders docs/bad-inputs.md from it      (doc [--check]);
  * runs every case and compares            (run ...; called by bad_inputs_test.sh,
    which builds the filesystem mirror and starts the pvesim instances).

A Terraform case is run with the real terraform CLI: `validate -json`,
`plan -json` or `apply -json`, whichever stage the case says catches it. The
stages before it must pass (so the table says truthfully where each input is
caught), the diagnostics must equal the expected ones exactly (severity,
summary, detail, and the attribute Terraform points at), no diagnostic may
repeat a secret of the configuration, and after a failed apply neither the
state nor pvesim may hold anything of the failed resource.

A module case runs the module binary the way Ansible runs a binary module
(`<binary> <args file>`), in check mode and again in normal mode, under an
empty test root: `failed` must be true, `changed` false, `msg` exactly the
expected text, the test root must still be empty, and no secret option's value
may appear in the output. Cases marked
`via = "ansible-playbook"` also go through the real ansible-playbook in check
mode with a local connection.

The module names and their secret (no_log) options come from the modules'
sidecar docs, modules/<name>/<name>.yml, read with PyYAML (which Ansible
brings); everything else uses only the Python standard library.
"""

import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tomllib
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(HERE, "cases.toml")
DOC = os.path.join(ROOT, "docs", "bad-inputs.md")
PROVIDER_VERSION = "0.1.0"

COLLECTION = "gcid.k8s"


def sidecar_docs():
    """{module name: path of its sidecar doc} for every modules/<name>/<name>.yml
    that documents a module (has a DOCUMENTATION key), sorted by name."""
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "modules", "*", "*.yml"))):
        name = os.path.basename(os.path.dirname(path))
        if os.path.basename(path) != name + ".yml":
            continue
        with open(path, encoding="utf-8") as f:
            if re.search(r"^DOCUMENTATION\s*:", f.read(), re.M):
                found[name] = path
    return found


# The modules of the collection, as documented in modules/ (the same list that
# modules/CMakeLists.txt builds: PVEK8S_MODULES).
MODULES = tuple(sidecar_docs())
GROUPS = [
    ("provider", "Provider configuration"),
    ("proxmox_k8s_node", "proxmox_k8s_node"),
    ("proxmox_k8s_cluster", "proxmox_k8s_cluster"),
    ("data_sources", "Data sources"),
] + [(m, f"{COLLECTION}.{m}") for m in MODULES]
TF_STAGES = ("validate", "plan", "apply")

# How placeholders in cases read in the doc; the runner fills in real values.
DOC_PLACEHOLDERS = {
    "endpoint": "https://127.0.0.1:PORT",
    "host_port": "127.0.0.1:PORT",
    "fingerprint": "AB:CD:...:EF",
    "fingerprint_hex": "abcd...ef",
    "token_id": "terraform@pam!tf",
    "token_secret": "(the token secret)",
    "ca_pem": "(pvesim's certificate, PEM)",
    "some_ca_pem": "(a CA certificate, PEM)",
}
# A valid provider block for the simulator a case runs against.
PROVIDER_BLOCK = """provider "proxmox" {
  endpoint         = "{{endpoint}}"
  api_token_id     = "{{token_id}}"
  api_token_secret = "{{token_secret}}"
  tls {
    fingerprint_sha256 = "{{fingerprint}}"
  }
}"""
PROVIDER_DOC = ('# provider "proxmox" { endpoint, api_token_id, api_token_secret and '
                'tls.fingerprint_sha256 of pvesim }')


class CaseError(Exception):
    pass


# --------------------------------------------------------------------------
# The case file.

def load_cases(path=CASES):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    cases = data.get("case", [])
    seen = set()
    groups = {g for g, _ in GROUPS}
    problems = []
    for c in cases:
        cid = c.get("id", "?")
        if cid in seen:
            problems.append(f"{cid}: duplicate id")
        seen.add(cid)
        for key in ("id", "group", "title", "kind", "stage"):
            if key not in c:
                problems.append(f"{cid}: missing {key}")
        if c.get("group") not in groups:
            problems.append(f"{cid}: unknown group {c.get('group')!r}")
        if c.get("kind") == "terraform":
            if c.get("stage") not in TF_STAGES:
                problems.append(f"{cid}: terraform stage must be one of {TF_STAGES}")
            if "config" not in c or not c.get("diagnostic"):
                problems.append(f"{cid}: a terraform case needs config and diagnostic")
        elif c.get("kind") == "module":
            if c.get("module") not in MODULES:
                problems.append(f"{cid}: unknown module {c.get('module')!r}")
            if c.get("stage") != "check mode":
                problems.append(f"{cid}: a module case is caught in check mode")
            if "args" not in c or "msg" not in c:
                problems.append(f"{cid}: a module case needs args and msg")
        else:
            problems.append(f"{cid}: kind must be terraform or module")
    if os.environ.get("BAD_INPUTS_DRAFT"):  # while writing new cases
        problems = [p for p in problems if "needs" not in p]
    if problems:
        raise CaseError("bad case file:\n  " + "\n  ".join(problems))
    return cases


# --------------------------------------------------------------------------
# docs/bad-inputs.md

def doc_text(text):
    """Placeholders as the doc shows them."""
    text = text.replace("{{provider}}", PROVIDER_DOC)
    return re.sub(r"\{\{(\w+)\}\}",
                  lambda m: DOC_PLACEHOLDERS.get(m.group(1), m.group(0)), text)


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    s = str(v)
    if "\n" in s or s == "" or re.search(r"[:#{}\[\],&*!|>'\"%@`]|^[-?\s]|\s$", s) or \
            s.lower() in ("yes", "no", "true", "false", "on", "off", "null", "y", "n", "~") or \
            re.fullmatch(r"[-+]?[0-9][0-9_.:eE+-]*", s):
        return json.dumps(s)
    return s


def yaml_lines(v, indent):
    pad = " " * indent
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{k}:")
                out.extend(yaml_lines(x, indent + 2))
            else:
                out.append(f"{pad}{k}: {yaml_flow(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                sub = yaml_lines(x, indent + 2)
                out.append(f"{pad}- {sub[0].lstrip()}")
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {yaml_flow(x)}")
    return out


def yaml_flow(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(yaml_flow(x) for x in v) + "]"
    return yaml_scalar(v)


def module_task(case):
    lines = [f"- name: {case['title']}", f"  {COLLECTION}.{case['module']}:"]
    lines.extend(yaml_lines(case["args"], 4) or ["    {}"])
    return "\n".join(lines)


def md_cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def render_doc(cases):
    out = [
        "# Bad inputs and their diagnostics",
        "",
        "<!-- Generated by acceptance-tests/bad_inputs/bad_inputs.py from cases.toml; "
        "do not edit. -->",
        "",
        "Every entry below is an invalid configuration or module argument, the stage that "
        "catches it, and the exact diagnostic it produces. The test `bad_inputs` (CTest label "
        "`acceptance`) runs every entry against the built provider, pvesim and the module "
        "binaries and fails when a diagnostic differs by one character, when an input is "
        "caught at another stage than the one listed, or when a failed apply or module run "
        "leaves anything behind (a VM in Proxmox, an entry in the state, a file on the host), "
        "or when a diagnostic or module output repeats a secret it was given. This page is generated from the "
        "same file the test reads, so the two cannot drift apart.",
        "",
        "Stages, earliest first:",
        "",
        "- **validate**: `terraform validate` (and therefore every `plan` and `apply`); "
        "no Proxmox connection is made.",
        "- **plan**: `terraform plan`; data sources are read and prior state is compared.",
        "- **apply**: `terraform apply`, before anything is created: the failed resource is "
        "neither in Proxmox nor in the state afterwards.",
        "- **check mode**: the module fails in `ansible-playbook --check` already, before it "
        "changes anything on the host, with the same message as in a normal run.",
        "",
        "For Terraform, *attribute* is where Terraform points the diagnostic (the source "
        "range it underlines); *(block)* means the whole resource, data source or provider "
        "block. Values that differ per run are shown as placeholders: "
        + ", ".join(f"`{v}`" for v in sorted(set(DOC_PLACEHOLDERS.values()))) + ".",
        "",
    ]
    counts = {g: sum(1 for c in cases if c["group"] == g) for g, _ in GROUPS}
    out.append("| group | cases |")
    out.append("|---|---|")
    for g, title in GROUPS:
        out.append(f"| [{title}](#{anchor(title)}) | {counts[g]} |")
    out.append(f"| **total** | **{len(cases)}** |")
    out.append("")
    for g, title in GROUPS:
        group_cases = [c for c in cases if c["group"] == g]
        if not group_cases:
            continue
        out.append(f"## {title}")
        out.append("")
        for c in group_cases:
            out.extend(render_case(c))
    notes = [c for c in cases if c.get("note")]
    if notes:
        out.append("## Known gaps")
        out.append("")
        out.append("These inputs are caught safely (nothing is left half-made), but later "
                   "than they could be or with less than they could say; each entry above "
                   "shows today's behaviour, and the test changes with it.")
        out.append("")
        for c in notes:
            out.append(f"- [`{c['id']}`](#{c['id']}): {doc_text(c['note'])}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def anchor(title):
    a = title.lower()
    a = re.sub(r"[^a-z0-9 _-]", "", a)
    return a.replace(" ", "-")


def render_case(c):
    out = [f'<a id="{c["id"]}"></a>', f"### {c['title']}", ""]
    if c.get("why"):
        out.append(doc_text(c["why"]).strip())
        out.append("")
    if c["kind"] == "terraform":
        out.append("```terraform")
        if c.get("setup"):
            out.append("# applied first:")
            out.append(doc_text(c["setup"]).strip())
            out.append("# then changed to:")
        out.append(doc_text(c["config"]).strip())
        out.append("```")
        out.append("")
        if c.get("env"):
            out.append("Environment: " + ", ".join(
                f"`{k}={doc_text(v)}`" for k, v in c["env"].items()) + ".")
            out.append("")
        out.append(f"Caught at **{c['stage']}**.")
        out.append("")
        out.append("| severity | summary | detail | attribute |")
        out.append("|---|---|---|---|")
        for d in c["diagnostic"]:
            attr = f"`{d['attribute']}`" if d.get("attribute") else "(block)"
            out.append(f"| {d['severity']} | {md_cell(doc_text(d['summary']))} | "
                       f"{md_cell(doc_text(d['detail']))} | {attr} |")
    else:
        out.append("```yaml")
        out.append(doc_text(module_task(c)))
        out.append("```")
        out.append("")
        via = " (also checked through `ansible-playbook --check`)" \
            if c.get("via") == "ansible-playbook" else ""
        out.append(f"Caught in **check mode**{via}: `failed: true`, `changed: false`, "
                   "`msg`:")
        out.append("")
        out.append("```text")
        out.append(doc_text(c["msg"]))
        out.append("```")
    if c.get("note"):
        out.append("")
        out.append(f"Known gap: {doc_text(c['note'])}")
    out.append("")
    return out


def cmd_doc(args):
    cases = load_cases()
    text = render_doc(cases)
    if args.check:
        try:
            with open(DOC, encoding="utf-8") as f:
                have = f.read()
        except FileNotFoundError:
            have = ""
        if have != text:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(
                have.splitlines(True), text.splitlines(True),
                "docs/bad-inputs.md (committed)", "docs/bad-inputs.md (generated)"))
            print("docs/bad-inputs.md is stale: run acceptance-tests/bad_inputs/bad_inputs.py doc")
            return 1
        print(f"docs/bad-inputs.md is up to date ({len(cases)} cases)")
        return 0
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(DOC, ROOT)} ({len(cases)} cases)")
    return 0


# --------------------------------------------------------------------------
# Running Terraform cases.

class Sim:
    """One running pvesim, as bad_inputs_test.sh started it."""

    def __init__(self, name, info):
        self.name = name
        self.url = info["url"]
        self.fingerprint = info["fingerprint"]
        self.ca_pem_file = info["ca_pem"]
        self.token_id = info["token_id"]
        self.token_secret = info["token_secret"]
        self.check_token = info["check_token"]  # an administrator's, for looking

    def api(self, path):
        ctx = ssl.create_default_context(cafile=self.ca_pem_file)
        ctx.check_hostname = False
        req = urllib.request.Request(
            self.url + "/api2/json" + path,
            headers={"Authorization": "PVEAPIToken=" + self.check_token})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return json.load(r)["data"]

    def vms(self):
        """Non-template VMs, as (node, vmid, name)."""
        out = []
        for n in self.api("/nodes"):
            for vm in self.api(f"/nodes/{n['node']}/qemu"):
                if not vm.get("template"):
                    out.append((n["node"], vm["vmid"], vm.get("name", "")))
        return sorted(out)


class Runner:
    def __init__(self, args):
        self.root = args.root
        self.sims = {name: Sim(name, info) for name, info in json.loads(args.sims).items()}
        self.modules = {m: os.path.realpath(getattr(args, m)) for m in MODULES}
        self.no_log = no_log_options()
        self.other_ca_pem = self.make_other_ca()
        self.schema = None
        self.init_dir = None

    # ---- fixtures

    def make_other_ca(self):
        d = os.path.join(self.root, "other-ca")
        os.makedirs(d, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "ca.pem"),
             "-days", "2", "-subj", "/CN=another CA"],
            check=True, capture_output=True)
        with open(os.path.join(d, "ca.pem"), encoding="ascii") as f:
            return f.read()

    def terraform_init(self):
        """One `terraform init`; every case directory links to its .terraform."""
        d = os.path.join(self.root, "tf-init")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.tf"), "w", encoding="utf-8") as f:
            f.write(terraform_block())
        r = run(["terraform", "init", "-no-color", "-input=false"], d, tf_env({}))
        if r.returncode != 0:
            raise CaseError("terraform init failed:\n" + r.stdout + r.stderr)
        r = run(["terraform", "providers", "schema", "-json"], d, tf_env({}))
        if r.returncode != 0:
            raise CaseError("terraform providers schema failed:\n" + r.stderr)
        self.schema = json.loads(r.stdout)["provider_schemas"][
            "registry.terraform.io/gcid/proxmox"]
        self.init_dir = d

    def subst(self, text, sim):
        text = text.replace("{{provider}}", PROVIDER_BLOCK)
        values = {"some_ca_pem": self.other_ca_pem.strip()}
        if sim is not None:
            with open(sim.ca_pem_file, encoding="ascii") as f:
                ca_pem = f.read().strip()
            values.update({
                "endpoint": sim.url,
                "host_port": sim.url[len("https://"):],
                "fingerprint": sim.fingerprint,
                "fingerprint_hex": sim.fingerprint.replace(":", "").lower(),
                "token_id": sim.token_id,
                "token_secret": sim.token_secret,
                "ca_pem": ca_pem,
            })

        def repl(m):
            if m.group(1) not in values:
                raise CaseError(f"unknown placeholder {m.group(0)}")
            return values[m.group(1)]
        return re.sub(r"\{\{(\w+)\}\}", repl, text)

    # ---- one Terraform case

    def run_terraform(self, case):
        sim = self.sims[case.get("sim", "main")]
        d = os.path.join(self.root, "cases", case["id"])
        os.makedirs(d)
        os.symlink(os.path.join(self.init_dir, ".terraform"), os.path.join(d, ".terraform"))
        shutil.copy(os.path.join(self.init_dir, ".terraform.lock.hcl"), d)
        env = tf_env({k: self.subst(v, sim) for k, v in case.get("env", {}).items()})
        problems = []
        main_tf = os.path.join(d, "main.tf")

        setup_state = []
        if case.get("setup"):
            write(main_tf, terraform_block() + self.subst(case["setup"], sim))
            r = run(["terraform", "apply", "-no-color", "-input=false", "-auto-approve"], d, env)
            if r.returncode != 0:
                return [f"setup apply failed:\n{indent(r.stdout + r.stderr)}"], None
            setup_state = state_list(d, env)
        config = terraform_block() + self.subst(case["config"], sim)
        write(main_tf, config)
        stage = case["stage"]
        diags = None
        try:
            r = run(["terraform", "validate", "-json", "-no-color"], d, env)
            got = parse_validate(r.stdout)
            if stage == "validate":
                diags = got
            elif got:
                problems.append("validate already reports: " + json.dumps(
                    self.normalize(got, config), indent=1))
            if stage in ("plan", "apply") and not problems:
                plan_args = ["terraform", "plan", "-json", "-no-color", "-input=false"]
                if stage == "apply":
                    plan_args.append("-out=tfplan")
                r = run(plan_args, d, env)
                got = parse_stream(r.stdout)
                if stage == "plan":
                    diags = got
                    if r.returncode == 0 and any(x["severity"] == "error" for x in got):
                        problems.append("plan reported errors but exited 0")
                elif got or r.returncode != 0:
                    problems.append("plan already reports: " + json.dumps(
                        self.normalize(got, config), indent=1) + (
                        "" if got else "\n" + indent(r.stdout + r.stderr)))
            if stage == "apply" and not problems:
                r = run(["terraform", "apply", "-json", "-no-color", "-input=false", "tfplan"],
                        d, env)
                diags = parse_stream(r.stdout)
                if r.returncode == 0:
                    problems.append("apply succeeded")
                left = [a for a in state_list(d, env) if a not in setup_state]
                if left:
                    problems.append(f"the state holds {left} after the failed apply")
                names = re.findall(r'^\s*name\s*=\s*"([^"]+)"', config, re.M)
                try:
                    made = [vm for vm in sim.vms() if vm[2] in names]
                except OSError as e:
                    made = []
                    problems.append(f"cannot list the VMs of pvesim {sim.name}: {e}")
                if made and not case.get("setup"):
                    problems.append(f"pvesim {sim.name} holds {made} after the failed apply")
        finally:
            if case.get("setup"):
                write(main_tf, terraform_block() + self.subst(case["setup"], sim))
                r = run(["terraform", "destroy", "-no-color", "-input=false", "-auto-approve"],
                        d, env)
                if r.returncode != 0:
                    problems.append("destroying the setup failed:\n" + indent(r.stdout + r.stderr))
        # No diagnostic repeats a secret of the configuration.
        secrets = re.findall(r'(?:api_token_secret|password)\s*=\s*"([^"]+)"', config)
        secrets += [v.split("=", 1)[1] for k, v in env.items()
                    if k == "PROXMOX_VE_API_TOKEN" and "=" in v]
        for x in diags or []:
            for secret in secrets:
                if secret in x.get("summary", "") + x.get("detail", ""):
                    problems.append(f"a diagnostic repeats the secret {secret!r}: {x}")
        if diags is not None and "diagnostic" in case:
            want = [{k: self.subst(x.get(k, ""), sim) for k in
                     ("severity", "summary", "detail", "attribute")}
                    for x in case["diagnostic"]]
            have = self.normalize(diags, config)
            if sort_diags(have) != sort_diags(want):
                problems.append("diagnostics differ:\n  want " + json.dumps(
                    want, indent=1).replace("\n", "\n  ") + "\n  have " + json.dumps(
                    have, indent=1).replace("\n", "\n  "))
        return problems, (self.normalize(diags, config) if diags is not None else None)

    def normalize(self, diags, config):
        return [{"severity": x.get("severity", ""),
                 "summary": x.get("summary", ""),
                 "detail": x.get("detail", ""),
                 "attribute": self.attribute_of(x, config)} for x in diags]

    def attribute_of(self, diag, config):
        """The attribute path at the start of the diagnostic's source range."""
        rng = diag.get("range")
        if not rng or rng.get("filename") != "main.tf":
            return ""
        return attribute_at(config, rng["start"]["line"], self.schema)


def terraform_block():
    return ('terraform {\n  required_providers {\n'
            f'    proxmox = {{ source = "gcid/proxmox", version = "{PROVIDER_VERSION}" }}\n'
            '  }\n}\n')


def tf_env(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_VE_", "TF_LOG"))}
    env.update({"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"})
    env.update(extra)
    return env


def run(argv, cwd, env, timeout=300, stdin=None):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def indent(text):
    return "    " + text.rstrip().replace("\n", "\n    ")


def state_list(d, env):
    r = run(["terraform", "state", "list"], d, env)
    return [line for line in r.stdout.splitlines() if line and not line.startswith("data.")]


def parse_validate(stdout):
    try:
        return json.loads(stdout).get("diagnostics", [])
    except json.JSONDecodeError:
        return [{"severity": "error", "summary": "unreadable validate output",
                 "detail": stdout[-2000:]}]


def parse_stream(stdout):
    out = []
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("type") == "diagnostic":
            out.append(msg["diagnostic"])
    return out


def sort_diags(ds):
    return sorted(ds, key=lambda x: (x["severity"], x["summary"], x["attribute"], x["detail"]))


def attribute_at(config, line_no, schema):
    """Terraform's attribute path for a line of our (simply formatted) config:
    the enclosing blocks below the top-level one, list blocks with an index,
    then the attribute assigned on that line (or nothing for a block header)."""
    lines = config.split("\n")
    stack = []  # frames: [name, block schema or None, {child: count}, index or None]
    header = re.compile(r'^\s*([A-Za-z_][\w-]*)((?:\s+"[^"]*")*)\s*\{\s*(\}?)\s*$')
    for i, raw in enumerate(lines[:line_no], start=1):
        text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', raw)
        m = header.match(raw)
        if i == line_no:
            if m:
                name = m.group(1)
                return path_of(stack[1:] + [child_frame(stack, name, schema, peek=True)]) \
                    if stack else ""
            a = re.match(r"^\s*([A-Za-z_][\w-]*)\s*=", raw)
            if not a:
                return path_of(stack[1:])
            return path_of(stack[1:]) + ("." if len(stack) > 1 else "") + a.group(1) \
                if stack else a.group(1)
        if m and m.group(3) != "}":
            name = m.group(1)
            if not stack:
                labels = re.findall(r'"([^"]*)"', m.group(2))
                stack.append([name, top_schema(schema, name, labels), {}, None])
            else:
                stack.append(child_frame(stack, name, schema))
            continue
        if m:  # "network {}" on one line: counts as a block
            if stack:
                child_frame(stack, m.group(1), schema)
            continue
        opens, closes = text.count("{"), text.count("}")
        for _ in range(opens):
            stack.append(["", None, {}, None])
        for _ in range(closes):
            if stack:
                stack.pop()
    return ""


def top_schema(schema, kind, labels):
    if schema is None:
        return None
    if kind == "provider":
        return schema["provider"]["block"]
    if kind == "resource" and labels:
        return schema["resource_schemas"].get(labels[0], {}).get("block")
    if kind == "data" and labels:
        return schema["data_source_schemas"].get(labels[0], {}).get("block")
    return None


def child_frame(stack, name, schema, peek=False):
    parent = stack[-1]
    bt = (parent[1] or {}).get("block_types", {}).get(name)
    index = None
    if bt and bt.get("nesting_mode") in ("list", "set"):
        index = parent[2].get(name, 0)
    if not peek:
        parent[2][name] = parent[2].get(name, 0) + 1
    return [name, bt["block"] if bt else None, {}, index]


def path_of(frames):
    parts = []
    for name, _, _, index in frames:
        parts.append(name + (f"[{index}]" if index is not None else ""))
    return ".".join(parts)


# --------------------------------------------------------------------------
# Running module cases.

def no_log_options():
    """Secret options of each module (`no_log: true` in its sidecar doc): their
    values never appear in its output."""
    import yaml  # Only runs need it; `doc` works without PyYAML.
    out = {}
    for name, path in sidecar_docs().items():
        with open(path, encoding="utf-8") as f:
            options = (yaml.safe_load(f)["DOCUMENTATION"].get("options") or {})
        out[name] = [o for o, spec in options.items()
                     if isinstance(spec, dict) and spec.get("no_log") is True]
    return out

ANSIBLE_INTERNAL = {
    "_ansible_diff": False,
    "_ansible_no_log": False,
    "_ansible_debug": False,
    "_ansible_verbosity": 0,
    "_ansible_keep_remote_files": False,
    "_ansible_syslog_facility": "LOG_USER",
    "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
    "_ansible_string_conversion_action": "warn",
    "_ansible_shell_executable": "/bin/sh",
}


def module_args(runner, case):
    def walk(v):
        if isinstance(v, str):
            return runner.subst(v, None)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v
    return walk(case["args"])


def tree(path):
    out = []
    for base, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(base, n), path))
    return sorted(out)


def module_env(test_root):
    env = {k: v for k, v in os.environ.items()}
    env["PVEK8S_KERNEL_TUNING_TEST_ROOT"] = test_root
    env["PVEK8S_KUBEADM_TEST_ROOT"] = test_root
    env["LC_ALL"] = "C"
    return env


def run_module(runner, case):
    problems = []
    results = []
    for check in (True, False):
        d = os.path.join(runner.root, "modules", case["id"] + ("-check" if check else "-run"))
        test_root = os.path.join(d, "root")
        os.makedirs(test_root)
        args = module_args(runner, case)
        args.update(ANSIBLE_INTERNAL)
        args["_ansible_check_mode"] = check
        args["_ansible_module_name"] = f"{COLLECTION}." + case["module"]
        args["_ansible_tmpdir"] = d
        args_file = os.path.join(d, "args")
        write(args_file, json.dumps(args))
        r = run([runner.modules[case["module"]], args_file], d, module_env(test_root))
        mode = "check mode" if check else "normal mode"
        try:
            result = json.loads(r.stdout)
        except json.JSONDecodeError:
            problems.append(f"{mode}: stdout is not one JSON object: {r.stdout!r} {r.stderr!r}")
            continue
        results.append(result)
        if result.get("failed") is not True:
            problems.append(f"{mode}: did not fail: {r.stdout}")
        if result.get("changed") is not False:
            problems.append(f"{mode}: changed is {result.get('changed')!r}")
        if result.get("msg") != case.get("msg"):
            problems.append(f"{mode}: msg differs:\n  want {case.get('msg')!r}\n  have "
                            f"{result.get('msg')!r}")
        if r.returncode == 0:
            problems.append(f"{mode}: exit status 0 on failure")
        left = tree(test_root)
        if left:
            problems.append(f"{mode}: the module left {left} in its test root")
        for name in runner.no_log[case["module"]]:
            value = args.get(name)
            if isinstance(value, str) and len(value) >= 6 and value in r.stdout:
                problems.append(f"{mode}: the output repeats {name}")
    if case.get("via") == "ansible-playbook":
        problems.extend(run_playbook(runner, case))
    return problems, (results[0].get("msg") if results else None)


def run_playbook(runner, case):
    d = os.path.join(runner.root, "playbooks", case["id"])
    test_root = os.path.join(d, "root")
    os.makedirs(test_root)
    coll = os.path.join(runner.root, "collections", "ansible_collections", "gcid", "k8s")
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{
            "name": case["title"],
            f"{COLLECTION}." + case["module"]: module_args(runner, case),
            "environment": {"PVEK8S_KERNEL_TUNING_TEST_ROOT": test_root,
                            "PVEK8S_KUBEADM_TEST_ROOT": test_root},
        }],
    }]
    write(os.path.join(d, "play.yml"), json.dumps(play, indent=1))
    write(os.path.join(d, "ansible.cfg"), "[defaults]\n")
    write(os.path.join(d, "hosts"),
          "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    home = os.path.join(d, "ansible-home")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.dirname(os.path.dirname(os.path.dirname(coll))),
        "ANSIBLE_HOME": home,
        "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(home, "remote-tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_CONFIG": os.path.join(d, "ansible.cfg"),
        "LC_ALL": "C.UTF-8",
    })
    r = run(["ansible-playbook", "-i", os.path.join(d, "hosts"), "--check",
             os.path.join(d, "play.yml")], d, env)
    try:
        out = json.loads(r.stdout)
        res = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (json.JSONDecodeError, KeyError, IndexError):
        return [f"ansible-playbook: unreadable output (exit {r.returncode}):\n"
                + indent(r.stdout[-3000:] + r.stderr[-3000:])]
    problems = []
    if r.returncode != 2:
        problems.append(f"ansible-playbook exited {r.returncode}, wanted 2 (a failed task)")
    if res.get("failed") is not True or res.get("changed") is not False:
        problems.append(f"ansible-playbook: failed={res.get('failed')!r} "
                        f"changed={res.get('changed')!r}")
    if res.get("msg") != case.get("msg"):
        problems.append(f"ansible-playbook: msg differs:\n  want {case.get('msg')!r}\n  have "
                        f"{res.get('msg')!r}")
    if tree(test_root):
        problems.append(f"ansible-playbook: the module left {tree(test_root)} in its test root")
    return problems


def stage_collection(runner):
    coll = os.path.join(runner.root, "collections", "ansible_collections", "gcid", "k8s")
    os.makedirs(os.path.join(coll, "plugins", "modules"))
    os.makedirs(os.path.join(coll, "meta"))
    write(os.path.join(coll, "meta", "runtime.yml"), "requires_ansible: '>=2.14.0'\n")
    for m, path in runner.modules.items():
        os.symlink(path, os.path.join(coll, "plugins", "modules", m))


# --------------------------------------------------------------------------

def cmd_run(args):
    cases = load_cases()
    if args.only:
        cases = [c for c in cases if c["id"] in args.only.split(",")]
    runner = Runner(args)
    failures = []
    actual = {}
    if any(c["kind"] == "terraform" for c in cases):
        runner.terraform_init()
    if any(c.get("via") == "ansible-playbook" for c in cases):
        stage_collection(runner)

    def one(case):
        try:
            if case["kind"] == "terraform":
                return case, *runner.run_terraform(case)
            return case, *run_module(runner, case)
        except Exception as e:  # report, keep going
            return case, [f"{type(e).__name__}: {e}"], None

    # Cases run in parallel (two at a time by default: the machines have two
    # cores). Each apply case has its own VM names, so what it leaves is its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for case, problems, got in pool.map(one, cases):
            actual[case["id"]] = got
            if problems:
                failures.append(case["id"])
                print(f"not ok - {case['id']} ({case['stage']})")
                for p in problems:
                    print(indent(p))
            else:
                print(f"ok - {case['id']} ({case['stage']})")
    # Nothing may be left in any simulator: every case cleaned up after itself.
    for sim in runner.sims.values():
        try:
            left = sim.vms()
        except OSError as e:
            left = [f"cannot list: {e}"]
        if left:
            failures.append(f"pvesim-{sim.name}")
            print(f"not ok - pvesim {sim.name} holds only its templates: {left}")
        else:
            print(f"ok - pvesim {sim.name} holds only its templates")
    if args.print_actual:
        print(json.dumps(actual, indent=1))
    counts = {g: sum(1 for c in cases if c["group"] == g) for g, _ in GROUPS}
    print("cases per group: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    print(f"{len(cases) - len([f for f in failures if not f.startswith('pvesim-')])} of "
          f"{len(cases)} cases passed")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doc", help="write docs/bad-inputs.md (or --check it)")
    d.add_argument("--check", action="store_true")
    r = sub.add_parser("run", help="run every case (see bad_inputs_test.sh)")
    r.add_argument("--root", required=True, help="a fresh directory for the runs")
    r.add_argument("--sims", required=True, help="JSON: name -> url, fingerprint, ...")
    for m in MODULES:
        r.add_argument("--" + m, required=True, help=f"the {m} module binary")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--only", help="comma-separated case ids")
    r.add_argument("--print-actual", action="store_true",
                   help="print what each case produced (to write new cases)")
    args = ap.parse_args()
    try:
        return cmd_doc(args) if args.cmd == "doc" else cmd_run(args)
    except CaseError as e:
        print(e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
