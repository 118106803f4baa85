#!/usr/bin/env python3
"""Writes the documentation-only NAME.py of a binary module from its sidecar NAME.yml.

`ansible-doc -l` (ansible-core 2.14) reads every listed module file as UTF-8
text to find its short description; a binary module file makes it warn and
drop the module even when the sidecar .yml is there. The collection therefore
lists, for each module, this text file holding the same documentation (as
Windows modules do with a .ps1 next to a .py), and links the binary under
the module's name (the listing skips links, execution follows them).

Usage: docstub.py NAME SIDECAR.yml OUTPUT.py
"""
import sys
import textwrap

SECTIONS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def sections(text):
    """The top-level keys of the sidecar and their bodies, dedented."""
    found = {}
    current = None
    for line in text.splitlines(keepends=True):
        head = line.split(":", 1)[0]
        if head in SECTIONS and line.startswith(head + ":"):
            current = head
            found[current] = []
        elif current and (line.startswith((" ", "\n")) or not line.strip()):
            found[current].append(line)
        elif line.strip() and not line.startswith("#"):
            current = None
    return {k: textwrap.dedent("".join(v)).strip("\n") + "\n" for k, v in found.items()}


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: docstub.py NAME SIDECAR.yml OUTPUT.py")
    name, sidecar, output = argv[1:]
    with open(sidecar, encoding="utf-8") as f:
        found = sections(f.read())
    missing = [s for s in SECTIONS if s not in found]
    if missing:
        sys.exit(f"docstub.py: {sidecar} lacks {', '.join(missing)}")
    for key, body in found.items():
        if "'''" in body:
            sys.exit(f"docstub.py: {sidecar}: {key} contains ''' and cannot be quoted")
    out = [
        f"# Documentation of the gcid.k8s.{name} binary module, generated from\n"
        f"# modules/{name}/{name}.yml. The module itself is bin/{name}, linked as\n"
        f"# plugins/modules/{name}; this file only lets `ansible-doc -l` list it.\n"
    ]
    for key in SECTIONS:
        out.append(f"\n{key} = r'''\n{found[key]}'''\n")
    with open(output, "w", encoding="utf-8") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main(sys.argv)
