//! The shipped node packages are consistent: every manifest's `hash` is the sha256 of its node's
//! other files (rule of docs/generation.md §4.4; `scripts/rehash-manifests.py` updates it), and
//! every registered handler is declared by exactly one node contract (`onex_handlers`).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn nodes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn node_packages() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(nodes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("node.manifest.yaml").is_file())
        .collect();
    v.sort();
    v
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn shipped_manifests_hash_their_files() {
    let packages = node_packages();
    assert!(packages.len() >= 7, "{packages:?}");
    for node in packages {
        let manifest = node.join("node.manifest.yaml");
        let mut paths: Vec<PathBuf> = files(&node)
            .into_iter()
            .filter(|p| *p != manifest)
            .collect();
        paths.sort_by_key(|p| {
            p.strip_prefix(&node)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        });
        let mut h = Sha256::new();
        for p in &paths {
            h.update(p.strip_prefix(&node).unwrap().to_string_lossy().as_bytes());
            h.update([0u8]);
            h.update(std::fs::read(p).unwrap());
        }
        let want = hex::encode(h.finalize());
        let text = std::fs::read_to_string(&manifest).unwrap();
        let have = text
            .lines()
            .find_map(|l| l.strip_prefix("hash: "))
            .expect("manifest has a hash");
        assert_eq!(
            have,
            want,
            "{} is stale: run scripts/rehash-manifests.py",
            manifest.display()
        );
    }
}

#[test]
fn every_registered_handler_is_declared_by_exactly_one_node() {
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in node_packages() {
        let contract = node.join("v1_0_0/contract.yaml");
        let report =
            onex_engine::contract::validate::validate_file(&contract, &Default::default(), None);
        let doc = report.doc.expect("parses");
        for h in doc.value["onex_handlers"].as_array().into_iter().flatten() {
            declared
                .entry(h.as_str().unwrap().to_owned())
                .or_default()
                .push(node.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for e in onex_generation::HANDLERS {
        let nodes = declared.remove(e.name).unwrap_or_default();
        assert_eq!(nodes.len(), 1, "handler '{}' declared by {nodes:?}", e.name);
    }
    assert!(
        declared.is_empty(),
        "declared but not registered: {declared:?}"
    );
}
