#!/usr/bin/env python3
"""Rewrites the `hash:` line of every nodes/*/node.manifest.yaml.

The hash is the sha256 of the node's other files, sorted by path, each as path, NUL, bytes
(the rule generated nodes follow, docs/generation.md §4.4). The test
`shipped_manifests_hash_their_files` fails when a contract changed without this being run.
"""
import hashlib, pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent / "nodes"
for manifest in sorted(root.glob("*/node.manifest.yaml")):
    node = manifest.parent
    h = hashlib.sha256()
    files = sorted(p for p in node.rglob("*") if p.is_file() and p != manifest)
    for p in files:
        h.update(str(p.relative_to(node)).encode() + b"\0" + p.read_bytes())
    text = manifest.read_text()
    new = re.sub(r"(?m)^hash: .*$", f"hash: {h.hexdigest()}", text)
    if new != text:
        manifest.write_text(new)
        print(f"updated {manifest.relative_to(root.parent)}")
