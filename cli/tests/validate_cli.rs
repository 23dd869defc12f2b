//! `onex validate`, `onex graph`, `onex schema` end to end (assert_cmd): exit codes 0/1/2, the
//! JSON shape, GitHub annotations, SARIF, non-UTF-8 input, the corpus.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn onex() -> Command {
    Command::cargo_bin("onex").unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/contracts")
}

const CLEAN: &str =
    "name: demo_node\ncontract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\n";

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn clean_file_exits_0() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "contract.yaml", CLEAN.as_bytes());
    onex()
        .arg("validate")
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "1 file(s) checked: 0 error(s), 0 warning(s)",
        ));
}

#[test]
fn errors_exit_1_with_caret_and_help() {
    let p = fixtures().join("onex014_unknown_node_type.yaml");
    onex()
        .arg("validate")
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "onex014_unknown_node_type.yaml:3:12 error ONEX014",
        ))
        .stdout(predicate::str::contains(
            "3 | node_type: SERVICE_MESH\n  |            ^",
        ))
        .stdout(predicate::str::contains("= help: "));
}

#[test]
fn usage_errors_exit_2() {
    onex()
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no path"));
    onex()
        .args(["validate", "/nonexistent/contract.yaml"])
        .assert()
        .code(2);
    onex()
        .args(["validate", "--format", "xml", "."])
        .assert()
        .code(2);
}

#[test]
fn warnings_exit_0_or_1_with_deny_warnings_and_strict() {
    let p = fixtures().join("onex015_top_level_version.yaml");
    onex().arg("validate").arg(&p).assert().code(0);
    onex()
        .args(["validate", "--deny-warnings"])
        .arg(&p)
        .assert()
        .code(1);
    onex()
        .args(["validate", "--strict"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error ONEX015"));
    // info never affects the exit code, not even with --deny-warnings.
    let info = fixtures().join("onex021_model_prefix.yaml");
    onex()
        .args(["validate", "--deny-warnings"])
        .arg(&info)
        .assert()
        .code(0);
}

#[test]
fn non_utf8_file_is_onex001_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "contract.yaml", b"name: x\n\xff\xfe\x00\n");
    onex()
        .arg("validate")
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ONEX001"));
}

#[test]
fn json_shape() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "contract.yaml", CLEAN.as_bytes());
    write(
        d.path(),
        "bad.yaml",
        b"contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: LAMBDA\n",
    );
    let out = onex()
        .args(["validate", "--format", "json"])
        .arg(d.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(top, ["format_version", "files", "summary"]);
    assert_eq!(v["format_version"], 1);
    assert_eq!(
        v["summary"],
        serde_json::json!({"files": 2, "errors": 1, "warnings": 0})
    );
    let files = v["files"].as_array().unwrap();
    for f in files {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["path", "dialect", "node_type", "status", "diagnostics"]
        );
    }
    let bad = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("bad.yaml"))
        .unwrap();
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["dialect"], "generic");
    let d0 = &bad["diagnostics"][0];
    let keys: Vec<&str> = d0.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "code",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_column",
            "pointer",
            "help"
        ]
    );
    assert_eq!(
        (
            d0["code"].as_str(),
            d0["line"].as_u64(),
            d0["column"].as_u64()
        ),
        (Some("ONEX014"), Some(2), Some(12))
    );
    assert_eq!(d0["pointer"], "/node_type");
    let ok = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("contract.yaml"))
        .unwrap();
    assert_eq!(
        (ok["status"].as_str(), ok["node_type"].as_str()),
        (Some("ok"), Some("COMPUTE_GENERIC"))
    );
}

#[test]
fn github_annotations() {
    let p = fixtures().join("onex046_cycle.yaml");
    onex()
        .args(["validate", "--format", "github"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(r"(?m)^::error file=[^,]*onex046_cycle\.yaml,line=12,endLine=12,col=23,endColumn=26,title=ONEX046::ONEX046 dependency cycle: a → c → b → a").unwrap());
}

#[test]
fn sarif_basic_shape() {
    let p = fixtures().join("onex070_topic_grammar.yaml");
    let out = onex()
        .args(["validate", "--format", "sarif"])
        .arg(&p)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "ONEX070");
    assert!(
        run["tool"]["driver"]["rules"][0]["help"]["text"]
            .as_str()
            .unwrap()
            .len()
            > 5
    );
    let r = &run["results"][0];
    assert_eq!(r["ruleId"], "ONEX070");
    assert_eq!(r["level"], "warning");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        11
    );
}

#[test]
fn no_include_makes_the_include_fixture_fail() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    let p = write(
        d.path(),
        "contract.yaml",
        format!("{CLEAN}routing: !include sub/routing.yaml\n").as_bytes(),
    );
    write(
        &d.path().join("sub"),
        "routing.yaml",
        b"default_handler: main\n",
    );
    onex().arg("validate").arg(&p).assert().code(0);
    onex()
        .args(["validate", "--no-include"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ONEX002"));
}

#[test]
fn corpus_validates_without_errors() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onex-corpus");
    assert!(corpus.is_dir(), "{} is missing", corpus.display());
    onex()
        .arg("validate")
        .arg(&corpus)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("13 file(s) checked: 0 error(s)"));
}

#[test]
fn graph_mermaid_and_dot() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "contract.yaml",
        b"contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: ORCHESTRATOR_GENERIC\nworkflow_coordination:\n  workflow_definition:\n    workflow_metadata: {workflow_name: w, execution_mode: parallel}\n    execution_graph:\n      nodes:\n        - {node_id: a, node_type: EFFECT_GENERIC}\n        - {node_id: b, depends_on: [a]}\n",
    );
    onex()
        .arg("graph")
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("flowchart TD"))
        .stdout(predicate::str::contains("a --> b"));
    onex()
        .args(["graph", "--format", "dot"])
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"a\" -> \"b\";"));
    onex().args(["graph", "/nonexistent.yaml"]).assert().code(2);
}

#[test]
fn schema_lists_and_prints() {
    onex()
        .arg("schema")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("onex-envelope"))
        .stdout(predicate::str::contains("onex-executable"));
    let out = onex()
        .args(["schema", "envelope"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    onex().args(["schema", "nope"]).assert().code(2);
}

#[test]
fn graph_of_the_shipped_pipeline_shows_stages_and_gates() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nodes/node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml");
    if !p.is_file() {
        return;
    }
    let out = onex()
        .arg("graph")
        .arg(&p)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("subgraph pre_validation"), "{text}");
    assert!(text.contains("BLOCKING"), "{text}");
    let json = onex()
        .args(["validate", "--format", "json"])
        .arg(&p)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["files"][0]["dialect"], "X");
    assert_eq!(v["files"][0]["status"], "ok");
}

#[test]
fn graph_draws_gate_dependencies_of_dialect_x() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "contract.yaml",
        b"contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: ORCHESTRATOR_GENERIC\nworkflow_coordination:\n  workflow_definition:\n    workflow_metadata: {workflow_name: w}\n    execution_graph:\n      nodes:\n        - {node_id: check, node_type: COMPUTE_GENERIC}\nonex:\n  stages:\n    - id: check\n      gates:\n        - {id: A1, name: First, type: BLOCKING}\n        - {id: A2, name: Second, type: WARNING, depends_on: [A1]}\n",
    );
    onex()
        .arg("graph")
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("subgraph check"))
        .stdout(predicate::str::contains("check__A1 -.-> check__A2"));
    onex()
        .args(["graph", "--format", "dot"])
        .arg(&p)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "\"check/A1\" -> \"check/A2\" [style=dashed];",
        ));
}
