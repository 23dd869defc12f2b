//! One diagnostic format everywhere (issue "Errors"): `validate`, `graph`, `generate --contract`
//! and `run` print a contract problem as the same block — location, severity, code, message, the
//! source line with the caret under the offending token, the help — and a YAML syntax error
//! marks its position.

use std::path::Path;

use assert_cmd::Command;

fn onex() -> Command {
    Command::cargo_bin("onex").unwrap()
}

const BLOCK: &str = "error ONEX002 YAML syntax error: while parsing a flow sequence, expected ',' or ']'\n2 | node_type: [EFFECT\n  |                   ^\n  = help: fix the YAML syntax at the marked position\n";

fn bad(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("bad.yaml");
    std::fs::write(
        &p,
        "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: [EFFECT\n",
    )
    .unwrap();
    p
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_graph_generate_and_run_print_one_format() {
    let d = tempfile::tempdir().unwrap();
    let p = bad(d.path());
    let loc = format!("{}:2:19 ", p.display());
    let want = format!("{loc}{BLOCK}");
    let v = onex().arg("validate").arg(&p).assert().code(1);
    assert!(
        text(&v.get_output().stdout).contains(&want),
        "validate:\n{}",
        text(&v.get_output().stdout)
    );
    let g = onex().arg("graph").arg(&p).assert().code(1);
    assert!(
        text(&g.get_output().stderr).contains(&want),
        "graph:\n{}",
        text(&g.get_output().stderr)
    );
    let r = onex()
        .args(["run", "--direct"])
        .arg(&p)
        .env("ONEX_BUS", "embedded")
        .assert()
        .failure();
    assert!(
        text(&r.get_output().stderr).contains(&want),
        "run:\n{}",
        text(&r.get_output().stderr)
    );
    let gen_ = onex()
        .args(["generate", "--direct", "--contract"])
        .arg(&p)
        .arg("create a compute node that adds numbers")
        .assert()
        .failure();
    assert!(
        text(&gen_.get_output().stderr).contains(&want),
        "generate:\n{}",
        text(&gen_.get_output().stderr)
    );
}

#[test]
fn the_underline_covers_the_offending_value() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.yaml");
    std::fs::write(
        &p,
        "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: SERVICE_MESH\n",
    )
    .unwrap();
    let v = onex().arg("validate").arg(&p).assert().code(1);
    let out = text(&v.get_output().stdout);
    assert!(
        out.contains("2 | node_type: SERVICE_MESH\n  |            ^^^^^^^^^^^^\n"),
        "{out}"
    );
}
