//! CI output of `onex validate` (issue "CI output"): SARIF 2.1.0 valid against the official
//! schema (vendored: tests/fixtures/sarif/) with rule metadata, `ruleIndex`,
//! `partialFingerprints`, `invocations` and `originalUriBaseIds`; GitHub annotations with
//! endLine/endColumn and the help; JSON with a format version.

use std::path::{Path, PathBuf};

use onex_engine::contract::{ValidateOptions, report, validate_paths};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/contracts")
}

fn all_fixtures() -> onex_engine::contract::Report {
    validate_paths(&[fixtures()], &ValidateOptions::default(), None).unwrap()
}

fn escape_bracket(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                match c {
                    Value::String(p) if k == "pattern" && p.ends_with("]?$") => {
                        *p = format!("{}\\]?$", &p[..p.len() - 3]);
                    }
                    _ => escape_bracket(c),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(escape_bracket),
        _ => {}
    }
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema_and_carries_rule_metadata() {
    let rep = all_fixtures();
    assert!(rep.errors() > 50);
    let sarif = report::sarif(&rep);
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/sarif/sarif-2.1.0-rtm.5.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The official `language` patterns end in an unescaped `]` (a literal in ECMA-262, an
    // error for Rust's regex engine); escape it in memory, the vendored file stays as shipped.
    escape_bracket(&mut schema);
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
    // The schema is not toothless: a result without a message is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&broken));

    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in rules {
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            r["helpUri"].as_str().unwrap(),
            format!("{}#{}", report::RULES_DOC_URI, id.to_ascii_lowercase())
        );
        assert!(!r["help"]["text"].as_str().unwrap().is_empty());
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
    }
    let results = run["results"].as_array().unwrap();
    let mut prints = std::collections::HashSet::new();
    for res in results {
        let i = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
        let fp = res["partialFingerprints"]["onexFinding/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 32);
        prints.insert(fp.to_string());
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert!(region["endColumn"].as_u64() > region["startColumn"].as_u64());
        assert_eq!(region["endLine"], region["startLine"]);
    }
    // Distinct findings have distinct fingerprints (a few fixtures repeat one finding per file).
    assert!(
        prints.len() * 10 >= results.len() * 9,
        "{} of {}",
        prints.len(),
        results.len()
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(run["invocations"][0]["exitCode"], 1);
    let base = run["originalUriBaseIds"]["SRCROOT"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
}

#[test]
fn relative_paths_use_srcroot_and_fingerprints_ignore_lines() {
    let d = tempfile::tempdir().unwrap();
    let write = |text: &str| {
        std::fs::write(d.path().join("c.yaml"), text).unwrap();
        let r = validate_paths(
            &[d.path().join("c.yaml")],
            &ValidateOptions::default(),
            None,
        )
        .unwrap();
        report::sarif(&r)
    };
    let body = "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: SERVICE_MESH\n";
    let a = write(body);
    let b = write(&format!("# a comment moves the finding down\n{body}"));
    let fa = &a["runs"][0]["results"][0];
    let fb = &b["runs"][0]["results"][0];
    assert_ne!(
        fa["locations"][0]["physicalLocation"]["region"]["startLine"],
        fb["locations"][0]["physicalLocation"]["region"]["startLine"]
    );
    assert_eq!(fa["partialFingerprints"], fb["partialFingerprints"]);
    // An absolute path outside the working directory is a file:// URI without a base id.
    let loc = &fa["locations"][0]["physicalLocation"]["artifactLocation"];
    if !d.path().starts_with(std::env::current_dir().unwrap()) {
        assert!(
            loc["uri"].as_str().unwrap().starts_with("file:///"),
            "{loc}"
        );
        assert!(loc.get("uriBaseId").is_none());
    }
}

#[test]
fn github_annotations_have_end_positions_and_help() {
    let rep = validate_paths(
        &[fixtures().join("onex014_unknown_node_type.yaml")],
        &ValidateOptions::default(),
        None,
    )
    .unwrap();
    let g = report::github(&rep);
    let line = g.lines().find(|l| l.contains("ONEX014")).unwrap();
    // `node_type: SERVICE_MESH`: the value starts at column 12 and is 12 characters long.
    assert!(
        line.contains(",line=3,endLine=3,col=12,endColumn=24,title=ONEX014::"),
        "{line}"
    );
    assert!(line.contains("%0Ahelp: "), "{line}");
}

#[test]
fn json_has_a_format_version() {
    let rep = all_fixtures();
    let j = report::json(&rep);
    assert_eq!(j["format_version"], report::JSON_FORMAT_VERSION);
    assert_eq!(report::JSON_FORMAT_VERSION, 1);
    let d = &j["files"][0]["diagnostics"][0];
    assert!(d["end_column"].as_u64() > d["column"].as_u64());
    assert!(d["file"].is_string());
}
