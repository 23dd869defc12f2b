//! Misspelt keys (issue "Errors"): an unknown key of the `onex:` block or of a gate is reported at
//! the key with the closest known key; a misspelt ONEX key outside `onex:` is ONEX025 (info, an
//! error with --strict) with the same hint.

use std::path::Path;

use onex_engine::contract::{ValidateOptions, validate_str};
use onex_engine::diag::Severity;

fn quality_contract() -> (std::path::PathBuf, String) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nodes/node_quality_check_orchestrator/v1_0_0/contract.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    (p, text)
}

fn line_of(text: &str, needle: &str) -> u32 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
}

#[test]
fn misspelt_onex_and_gate_keys_get_did_you_mean_at_the_key() {
    let (p, text) = quality_contract();
    let bad = text
        .replacen("  run_timeout_ms:", "  run_timout_ms:", 1)
        .replacen("          expression:", "          expresion:", 1);
    assert_ne!(bad, text);
    let r = validate_str(&p, &bad, &ValidateOptions::default(), None);
    let find = |key: &str| {
        r.diagnostics
            .iter()
            .find(|d| d.message.contains(&format!("`{key}`")) && d.code == "ONEX106")
            .unwrap_or_else(|| panic!("no finding for {key}: {:#?}", r.diagnostics))
    };
    let run = find("run_timout_ms");
    assert_eq!(run.help, "did you mean `run_timeout_ms`?");
    assert_eq!(run.pos.line, line_of(&bad, "run_timout_ms:"));
    assert_eq!(run.pos.column, 3);
    let gate = find("expresion");
    assert_eq!(gate.help, "did you mean `expression`?");
    assert_eq!(gate.pos.line, line_of(&bad, "expresion:"));
    assert_eq!(gate.pos.column, 11);
    // The top level of an executable contract is constrained by its schema (editors flag it).
    let top = bad.replacen("\nname:", "\nnmae:", 1);
    let r = validate_str(&p, &top, &ValidateOptions::default(), None);
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.message.contains("`nmae`"))
        .unwrap_or_else(|| panic!("{:#?}", r.diagnostics));
    assert_eq!((d.code.as_str(), d.severity), ("ONEX025", Severity::Info));
    assert_eq!(d.help, "did you mean `name`?");
}

#[test]
fn misspelt_onex_keys_are_onex025_and_errors_with_strict() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/contracts/onex025_misspelt_keys.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    for (strict, sev) in [(false, Severity::Info), (true, Severity::Error)] {
        let opts = ValidateOptions {
            strict,
            ..ValidateOptions::default()
        };
        let r = validate_str(&p, &text, &opts, None);
        let got: Vec<(String, u32, u32, Severity)> = r
            .diagnostics
            .iter()
            .filter(|d| d.code == "ONEX025")
            .map(|d| (d.help.clone(), d.pos.line, d.pos.column, d.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("did you mean `description`?".to_string(), 4, 1, sev),
                ("did you mean `execution_mode`?".to_string(), 9, 7, sev),
            ]
        );
    }
}
