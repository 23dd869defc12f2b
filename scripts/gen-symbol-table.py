#!/usr/bin/env python3
"""Generate nodes/generation/templates/omnibase_core_symbols.json from the installed omnibase-core.

The template pack's G4/G11 checks read this table; it is generated, never written by hand
(docs/generation.md §4.9). Run it with a Python >= 3.12 that has the pinned release:

    "$(scripts/python-env.sh)" scripts/gen-symbol-table.py --pin 0.47.57

What it does:
  1. scans the pack's templates (*.j2) for `from omnibase_core.… import …` lines; the node-type
     variables in them (`node_type_lower`, `base_class`) are expanded for the four node types;
  2. imports every such symbol from the installed package and fails if one is missing, or if
     the installed version is not the pin;
  3. adds the public names defined in (or exported by) each module the pack imports from, so a
     pack that imports a neighbour of a used symbol still passes G4 once it is verified here;
  4. writes the sorted table (with --check: compares it with the committed file instead and
     exits 1 when they differ, for CI).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import inspect
import json
import pathlib
import re
import sys

NODE_TYPES = ["effect", "compute", "reducer", "orchestrator"]
IMPORT_RE = re.compile(
    r"^\s*from\s+(omnibase_core(?:\.[\w{} .]+?)?)\s+import\s+\(?([^)#\n]+)\)?", re.M
)
VAR_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def expand(text: str, node_type: str) -> str:
    values = {"node_type_lower": node_type, "base_class": "Node" + node_type.capitalize()}

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise SystemExit(f"import line uses template variable {name!r}; extend expand()")
        return values[name]

    return VAR_RE.sub(sub, text)


def pack_imports(pack: pathlib.Path) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(pack.rglob("*.j2")):
        text = path.read_text(encoding="utf-8")
        for m in IMPORT_RE.finditer(text):
            for node_type in NODE_TYPES:
                module = expand(m.group(1), node_type).replace(" ", "")
                for name in expand(m.group(2), node_type).split(","):
                    name = name.strip().split(" as ")[0].strip()
                    if name:
                        found.add((module, name))
    return found


def public_names(module: object) -> set[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == module.__name__  # type: ignore[attr-defined]
        ]
    return {n for n in names if isinstance(n, str) and n.isidentifier() and not n.startswith("_")}


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pin", required=True, help="omnibase-core version that must be installed")
    ap.add_argument("--pack", type=pathlib.Path, default=root / "nodes/generation/templates/pack")
    ap.add_argument(
        "--out", type=pathlib.Path, default=root / "nodes/generation/templates/omnibase_core_symbols.json"
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write: exit 1 if the committed table differs from the generated one",
    )
    args = ap.parse_args()

    if sys.version_info < (3, 12):
        print(f"error: Python >= 3.12 required, this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    try:
        installed = importlib.metadata.version("omnibase-core")
    except importlib.metadata.PackageNotFoundError:
        print(f"error: omnibase-core is not installed in {sys.executable}", file=sys.stderr)
        return 2
    if installed != args.pin:
        print(f"error: omnibase-core {installed} installed, pin is {args.pin}", file=sys.stderr)
        return 2

    wanted = pack_imports(args.pack)
    if not wanted:
        print(f"error: no omnibase_core imports found under {args.pack}", file=sys.stderr)
        return 2
    symbols: set[str] = set()
    missing: list[str] = []
    for module_name, name in sorted(wanted):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"{module_name}: {exc}")
            continue
        if not hasattr(module, name):
            missing.append(f"{module_name}.{name}: no such attribute")
            continue
        symbols.add(f"{module_name}.{name}")
        symbols.update(f"{module_name}.{n}" for n in public_names(module))
    if missing:
        print("error: the pack imports symbols the pinned release lacks:", file=sys.stderr)
        for m in missing:
            print(f"  {m}", file=sys.stderr)
        return 1

    table = {"package": "omnibase-core", "version": installed, "symbols": sorted(symbols)}
    text = json.dumps(table, indent=2) + "\n"
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"error: {args.out} is stale; regenerate it with {sys.argv[0]} --pin {args.pin}", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date ({len(symbols)} symbols, omnibase-core {installed})")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(symbols)} symbols ({len(wanted)} imported by the pack) from omnibase-core {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
