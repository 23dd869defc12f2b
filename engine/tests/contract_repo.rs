//! The project's own YAML (the shipped pipeline contract, node contracts and manifests, the event
//! catalogue) validates with no error and no warning (docs/dialects.md §8.3).

use std::path::Path;

use onex_engine::contract::{ValidateOptions, validate_paths};

#[test]
fn own_contracts_are_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paths: Vec<_> = ["contracts", "nodes"]
        .iter()
        .map(|d| root.join(d))
        .filter(|p| p.is_dir())
        .collect();
    if paths.is_empty() {
        return;
    }
    let report = validate_paths(&paths, &ValidateOptions::default(), None).unwrap();
    let findings: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter())
        .filter(|d| d.severity != onex_engine::diag::Severity::Info)
        .map(|d| {
            format!(
                "{}:{}:{} {} {}",
                d.path.display(),
                d.pos.line,
                d.pos.column,
                d.code,
                d.message
            )
        })
        .collect();
    assert!(findings.is_empty(), "{findings:#?}");
}
