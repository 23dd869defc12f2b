//! Discovery (docs/dialects.md §1.1), usage errors, the `$ref` fragment rule, and rule ordering details that
//! fixtures alone do not pin down.

use std::path::{Path, PathBuf};

use onex_engine::contract::validate::discover;
use onex_engine::contract::{ValidateOptions, validate_file, validate_paths, validate_str};

const CLEAN: &str =
    "name: demo_node\ncontract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\n";

fn touch(root: &Path, rel: &str) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, CLEAN).unwrap();
    p
}

#[test]
fn discovery_skips_hidden_fragments_and_vendor_dirs() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let keep = [
        touch(r, "a/contract.yaml"),
        touch(r, "b.yml"),
        touch(r, "deep/er/c.yaml"),
    ];
    for skip in [
        ".hidden.yaml",
        ".onex-staging/x/contract.yaml",
        "_fragment.yaml",
        "_disabled/contract.yaml",
        "archived/contract.yaml",
        "__pycache__/x.yaml",
        "node_modules/p/x.yaml",
        ".git/x.yaml",
        "notes.txt",
    ] {
        touch(r, skip);
    }
    let mut found = discover(&[r.to_path_buf()]).unwrap();
    found.sort();
    let mut want = keep.to_vec();
    want.sort();
    assert_eq!(found, want);
    // A file named explicitly is never skipped.
    let explicit = r.join("_fragment.yaml");
    assert_eq!(
        discover(std::slice::from_ref(&explicit)).unwrap(),
        vec![explicit]
    );
}

#[test]
fn usage_errors() {
    assert!(discover(&[]).is_err());
    assert!(
        validate_paths(
            &[PathBuf::from("/nonexistent/x")],
            &ValidateOptions::default(),
            None
        )
        .is_err()
    );
}

#[test]
fn ref_with_fragment_is_reported_not_followed() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("_fsm.yaml"), "states: []\n").unwrap();
    let p = d.path().join("contract.yaml");
    std::fs::write(&p, format!("{CLEAN}extra: {{$ref: '_fsm.yaml#/states'}}\nschema: {{$ref: '#/defs/x'}}\nremote: {{$ref: 'https://x/y.yaml'}}\n")).unwrap();
    let r = validate_file(&p, &ValidateOptions::default(), None);
    let refs: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.code == "ONEX068")
        .collect();
    assert_eq!(refs.len(), 1, "{:?}", r.diagnostics);
    assert!(refs[0].message.contains("fragment"));
    let v = &r.doc.unwrap().value;
    assert_eq!(v["extra"]["$ref"], "_fsm.yaml#/states");
    assert_eq!(v["schema"]["$ref"], "#/defs/x");
}

#[test]
fn reserved_mode_stops_the_other_graph_rules() {
    let text = "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: ORCHESTRATOR_GENERIC\nworkflow_coordination:\n  workflow_definition:\n    workflow_metadata: {execution_mode: conditional}\n    execution_graph:\n      nodes: []\n";
    let r = validate_str(
        Path::new("/virtual/contract.yaml"),
        text,
        &ValidateOptions::default(),
        None,
    );
    let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["ONEX040"]);
}

#[test]
fn all_problems_of_all_files_are_collected() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.yaml"),
        "node_type: LAMBDA\nname: Bad.Name\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("b.yaml"),
        "contract_version: \"1.x\"\nnode_type: [x\n",
    )
    .unwrap();
    std::fs::write(d.path().join("c.yaml"), CLEAN).unwrap();
    let rep = validate_paths(&[d.path().to_path_buf()], &ValidateOptions::default(), None).unwrap();
    assert_eq!(rep.files.len(), 3);
    let a: Vec<&str> = rep.files[0]
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(a, ["ONEX010", "ONEX014", "ONEX020"]);
    assert!(rep.files[1].has("ONEX002"));
    assert_eq!(rep.files[2].status().as_str(), "ok");
    assert_eq!(rep.exit_code(false), 1);
}

#[test]
fn parallel_validation_keeps_discovery_order() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..40 {
        let text = if i % 3 == 0 {
            format!("{CLEAN}name: Bad.Name{i}\n").replace("name: demo_node\n", "")
        } else {
            CLEAN.to_string()
        };
        std::fs::write(d.path().join(format!("c{i:02}.yaml")), text).unwrap();
    }
    let paths = [d.path().to_path_buf()];
    let want = discover(&paths).unwrap();
    let rep = validate_paths(&paths, &ValidateOptions::default(), None).unwrap();
    let got: Vec<PathBuf> = rep.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(got, want);
    for (i, f) in rep.files.iter().enumerate() {
        assert_eq!(f.has("ONEX020"), i % 3 == 0, "{}", f.path.display());
    }
}
