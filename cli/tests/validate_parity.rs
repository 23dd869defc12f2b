//! `onex validate` gives ONEX's verdict where it matters for CI (docs/rules.md, "ONEX parity"):
//! a skipped file never fails the run, lenient version shapes only warn (errors with --strict),
//! and what ONEX rejects (a description-only template, a lax handler contract, a recoverable
//! terminal state) fails.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn onex() -> Command {
    Command::cargo_bin("onex").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/contracts")
        .join(name)
}

#[test]
fn duplicate_key_in_a_skipped_file_warns_and_fails_only_with_strict() {
    let p = fixture("onex005_duplicate_in_skipped_file.yaml");
    onex()
        .arg("validate")
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("warning ONEX005"));
    onex()
        .args(["validate", "--strict"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error ONEX005"));
    // In a contract the duplicate stays an error.
    onex()
        .arg("validate")
        .arg(fixture("onex005_duplicate_key.yaml"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error ONEX005"));
}

#[test]
fn lax_version_shapes_warn_and_fail_with_strict() {
    let p = fixture("onex019_lax_version_shapes.yaml");
    onex()
        .arg("validate")
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("warning ONEX019"));
    onex()
        .args(["validate", "--strict"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error ONEX019"));
}

#[test]
fn what_onex_rejects_fails() {
    for (name, code) in [
        ("onex010_description_only.yaml", "ONEX010"),
        ("onex018_description_not_string.yaml", "ONEX018"),
        ("onex038_handler_purity_impure.yaml", "ONEX038"),
        ("onex038_handler_string_version.yaml", "ONEX038"),
        ("onex038_handler_model_mapping.yaml", "ONEX038"),
        ("onex069_terminal_recoverable.yaml", "ONEX069"),
    ] {
        onex()
            .arg("validate")
            .arg(fixture(name))
            .assert()
            .code(1)
            .stdout(predicate::str::contains(format!("error {code}")));
    }
}
