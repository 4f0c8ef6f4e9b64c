#!/usr/bin/env python3
"""Fails when a lower layer of corio/src imports an upper one.

The order is data: corio/layers.txt (bottom first). A reference counts when
a file of module M names `crate::X` (or `$crate::X`, or X in a
`use crate::{...}` group) where X is a top-level module, or a name the crate
root re-exports from one (lib.rs `pub use X::...`). Comments and
#[cfg(test)] code do not count. No exceptions list.
"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
src = root / "corio" / "src"
order = [line.split("#")[0].strip() for line in (root / "corio" / "layers.txt").read_text().splitlines()]
order = [m for m in order if m]
rank = {m: i for i, m in enumerate(order)}

mods = {p.stem if p.is_file() else p.name for p in src.iterdir()
        if (p.is_dir() or p.suffix == ".rs") and p.stem not in ("lib", "main")}
missing = sorted(mods - set(rank))
if missing:
    sys.exit(f"check_layers: modules not placed in corio/layers.txt: {', '.join(missing)}")

def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]

# Names the crate root re-exports, by module: `pub use module::{a, b}`.
lib = strip((src / "lib.rs").read_text())
path_of = {"hyper": "hyper_rt"}  # `#[path = "hyper_rt/mod.rs"] pub mod hyper`
root_names = {}
for module, names in re.findall(r"pub use (\w+)::\{([^}]*)\}", lib):
    for name in re.findall(r"\w+", names):
        root_names[name] = path_of.get(module, module)
for module, name in re.findall(r"pub use (\w+)::(\w+)\s*;", lib):
    root_names[name] = path_of.get(module, module)

def target(name):
    name = path_of.get(name, name)
    if name in rank:
        return name
    return root_names.get(name)

ref = re.compile(r"\$?\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
group = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)
violations = []
for f in sorted(src.rglob("*.rs")):
    rel = f.relative_to(src).parts
    top = rel[0][:-3] if len(rel) == 1 else rel[0]
    if top not in rank:
        continue
    text = strip(f.read_text())
    names = set(ref.findall(text))
    for g in group.findall(text):
        names |= set(re.findall(r"(?:^|[,{\s])([A-Za-z_]\w*)\s*(?:::|,|}|$)", g))
    for name in sorted(names):
        t = target(name)
        if t and t != top and rank[t] > rank[top]:
            violations.append(f"{f.relative_to(root)}: {top} (layer {rank[top]}) uses crate::{name} of {t} (layer {rank[t]})")

if violations:
    print("check_layers: a lower layer imports an upper one:")
    print("\n".join("  " + v for v in violations))
    sys.exit(1)
print(f"check_layers: {len(order)} layers, {len(mods)} modules, no upward import")
