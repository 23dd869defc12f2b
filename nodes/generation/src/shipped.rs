//! The shipped workflow files: node generation's contract and catalogue, and the node quality
//! check workflow that runs after it. They are data in this repository; a binary built from it
//! reads them from the source tree when it is still there (`cargo run`, `cargo install --path`)
//! and otherwise from copies it carries, written once per content hash into the cache
//! directory — so editing the files in a checkout takes effect without a rebuild, and an
//! installed binary works from any directory.

use std::path::{Path, PathBuf};

use onex_engine::contract::executable::EngineKnowledge;
use onex_engine::diag::Diagnostic;
use onex_engine::workflow::Workflow;

/// The node generation contract, relative to the repository root.
pub const GENERATION_CONTRACT: &str =
    "nodes/node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml";
/// The node quality check contract, relative to the repository root.
pub const QUALITY_CONTRACT: &str = "nodes/node_quality_check_orchestrator/v1_0_0/contract.yaml";

/// Every shipped file a workflow reads, relative to the repository root, with its bytes.
const FILES: &[(&str, &str)] = &[
    (
        GENERATION_CONTRACT,
        include_str!("../../node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml"),
    ),
    (
        "contracts/pipeline_events.yaml",
        include_str!("../../../contracts/pipeline_events.yaml"),
    ),
    (
        QUALITY_CONTRACT,
        include_str!("../../node_quality_check_orchestrator/v1_0_0/contract.yaml"),
    ),
    (
        "contracts/node_quality_events.yaml",
        include_str!("../../../contracts/node_quality_events.yaml"),
    ),
];

/// The repository root this crate was built from.
fn source_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Where the shipped files are: the source tree when it has all of them, else the copies this
/// binary carries, materialised under `$XDG_CACHE_HOME/onex/shipped/<hash>/`.
pub fn root() -> Result<PathBuf, String> {
    let src = source_root();
    if FILES.iter().all(|(rel, _)| src.join(rel).is_file()) {
        return Ok(src);
    }
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (rel, text) in FILES {
        h.update(rel.as_bytes());
        h.update(text.as_bytes());
    }
    let hash = hex::encode(&h.finalize()[..8]);
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let dir = cache.join("onex/shipped").join(hash);
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == *text) {
            continue;
        }
        let parent = path.parent().unwrap_or(&dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        // Write beside and rename, so a concurrent process never reads half a file.
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// The path of a shipped contract (`GENERATION_CONTRACT`, `QUALITY_CONTRACT`).
pub fn path(rel: &str) -> Result<PathBuf, String> {
    Ok(root()?.join(rel))
}

/// Loads a shipped workflow through the one validation path.
pub fn load(rel: &str, engine: &dyn EngineKnowledge) -> Result<Workflow, Vec<Diagnostic>> {
    let path = path(rel).map_err(|m| {
        vec![Diagnostic {
            code: "ONEX001".into(),
            severity: onex_engine::diag::Severity::Error,
            message: m,
            path: PathBuf::from(rel),
            pos: Default::default(),
            pointer: String::new(),
            help: "check that the cache directory is writable (XDG_CACHE_HOME)".into(),
        }]
    })?;
    Workflow::load(&path, engine)
}

/// Node generation's workflow.
pub fn generation(engine: &dyn EngineKnowledge) -> Result<Workflow, Vec<Diagnostic>> {
    load(GENERATION_CONTRACT, engine)
}
