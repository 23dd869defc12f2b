//! Fixtures of the engine rules ONEX100–ONEX108 (`tests/fixtures/pipeline/`): each `onexNNN_…`
//! file breaks the valid baseline once and must produce that code; every finding (code,
//! line:col, message, pointer) is pinned by one snapshot. These rules need the engine's
//! knowledge (the handlers a binary links) and a real catalogue, so they run with node
//! generation's table joined to the built-ins.

use onex_engine::contract::{ValidateOptions, validate_file};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipeline");
    p.canonicalize().unwrap_or(p)
}

#[test]
fn every_engine_rule_has_a_fixture_that_reports_it_where_it_is() {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut snapshot = String::new();
    let mut covered = std::collections::BTreeSet::new();
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let handlers = onex_engine::pipeline::Handlers::builtin()
            .with(onex_generation::HANDLERS)
            .unwrap();
        let report = validate_file(path, &ValidateOptions::default(), Some(&handlers));
        snapshot.push_str(&format!("== {name}\n"));
        // Messages that name a file name it absolutely; the snapshot holds them relative to
        // the repository, so it is the same in every checkout.
        let root = fixtures().join("../../..").canonicalize().unwrap();
        let root = format!("{}/", root.display());
        for d in &report.diagnostics {
            snapshot.push_str(&format!(
                "{}:{} {:?} {} {} [{}]\n",
                d.pos.line,
                d.pos.column,
                d.severity,
                d.code,
                d.message.replace(&root, ""),
                d.pointer
            ));
        }
        match name.strip_prefix("onex").and_then(|r| r.get(..3)) {
            Some(n) => {
                let code = format!("ONEX{n}");
                assert!(
                    report.has(&code),
                    "{name} does not report {code}: {:?}",
                    report.diagnostics
                );
                covered.insert(code);
            }
            None => assert_eq!(
                report.errors() + report.warnings(),
                0,
                "{name}: {:?}",
                report.diagnostics
            ),
        }
    }
    for code in [
        "ONEX100", "ONEX101", "ONEX102", "ONEX103", "ONEX104", "ONEX105", "ONEX106", "ONEX107",
        "ONEX108",
    ] {
        assert!(covered.contains(code), "no fixture for {code}");
    }
    insta::assert_snapshot!(snapshot);
}
