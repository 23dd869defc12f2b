//! Property tests: arbitrary bytes and arbitrary YAML-ish text never panic the loader or the
//! validator. 10,000+ cases in total per run (kept under ~20 s in debug builds).
//!
//! Longer runs: `PROPTEST_CASES=1000000 cargo test -p onex-engine --release --test contract_fuzz`
//! (each property then runs that many cases).

use std::path::Path;

use onex_engine::contract::{LoadOptions, ValidateOptions, load_str, validate_str};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fragments that exercise YAML's tricky corners: flow/block mixes, anchors, tags, includes,
/// multi-docs, quotes, block scalars, duplicate keys, contract keys.
fn yamlish() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "\n",
        "  ",
        "- ",
        ": ",
        "? ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "&a ",
        "*a",
        "!include ",
        "!!str ",
        "!x ",
        "'",
        "\"",
        "|\n",
        ">-\n",
        "#",
        "---\n",
        "...\n",
        "%YAML 1.2\n",
        "key",
        "node_type",
        "contract_version",
        "workflow_coordination",
        "depends_on",
        "$ref",
        "major: 1",
        "1.0.0",
        "null",
        "~",
        "\t",
        "\\u00e9",
        "é",
        "\u{feff}",
        "onex",
        "execution_graph",
        "nodes",
        "node_id",
        "state_machine",
        "states",
        "../x.yaml",
        "sub/r.yaml",
        "0x1f",
        ".inf",
        "-",
        "<<: *a",
    ]);
    prop::collection::vec(tokens, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(4_000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_str(Path::new("/nonexistent/fuzz/contract.yaml"), &text, LoadOptions::default());
    }

    #[test]
    fn yamlish_text_never_panics_the_validator(text in yamlish()) {
        let r = validate_str(Path::new("/nonexistent/fuzz/contract.yaml"), &text, &ValidateOptions::default(), None);
        // Every finding has a real position.
        for d in &r.diagnostics {
            prop_assert!(d.pos.line >= 1 && d.pos.column >= 1, "{d:?}");
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,300}") {
        let _ = validate_str(Path::new("/nonexistent/fuzz/x.yaml"), &text, &ValidateOptions { strict: true, include: false }, None);
    }
}

#[test]
fn prefixed_contracts_never_panic() {
    // A valid contract head followed by noise reaches the rule layer, not only the parser.
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(2_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let head =
        "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: ORCHESTRATOR_GENERIC\n";
    runner
        .run(&yamlish(), |tail| {
            let text = format!("{head}{tail}");
            let _ = validate_str(
                Path::new("/nonexistent/fuzz/contract.yaml"),
                &text,
                &ValidateOptions::default(),
                None,
            );
            Ok(())
        })
        .unwrap();
}
