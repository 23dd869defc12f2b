//! `!include` limits that need generated files: nesting depth (ONEX083) and fragment size
//! (ONEX084); plus include positions and `--no-include` behaviour on a temp tree.

use onex_engine::contract::{ValidateOptions, validate_file};

const HEAD: &str =
    "name: demo_node\ncontract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\n";

#[test]
fn eleven_nested_includes_are_onex083() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("contract.yaml"),
        format!("{HEAD}part: !include _1.yaml\n"),
    )
    .unwrap();
    for i in 1..=12 {
        std::fs::write(
            dir.path().join(format!("_{i}.yaml")),
            format!("level{i}: !include _{}.yaml\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("_13.yaml"), "end: true\n").unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "ONEX083")
        .expect("ONEX083");
    assert!(d.path.ends_with("_10.yaml"), "{d:?}");
    assert_eq!((d.pos.line, d.pos.column), (1, 10));
    // Ten levels are fine.
    std::fs::write(dir.path().join("_10.yaml"), "end: true\n").unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let v = &r.doc.unwrap().value;
    assert_eq!(
        v.pointer("/part/level1/level2/level3/level4/level5/level6/level7/level8/level9/end"),
        Some(&serde_json::json!(true))
    );
}

#[test]
fn two_mib_fragment_is_onex084() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("contract.yaml"),
        format!("{HEAD}blob: !include _big.yaml\n"),
    )
    .unwrap();
    let line = format!("k: {}\n", "x".repeat(100));
    let big: String =
        std::iter::repeat_n(line.as_str(), 2 * 1024 * 1024 / line.len() + 1).collect();
    std::fs::write(dir.path().join("_big.yaml"), big).unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "ONEX084")
        .expect("ONEX084");
    assert_eq!((d.pos.line, d.pos.column), (4, 7));
}

#[test]
fn findings_inside_included_files_carry_their_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("contract.yaml"),
        format!("{HEAD}event_bus: !include sub/_bus.yaml\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/_bus.yaml"),
        "# bus\nsubscribe_topics:\n  - runtime.ready\n",
    )
    .unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "ONEX070")
        .expect("ONEX070");
    assert!(d.path.ends_with("sub/_bus.yaml"), "{d:?}");
    assert_eq!((d.pos.line, d.pos.column), (3, 5));
    let plain = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions {
            strict: false,
            include: false,
        },
        None,
    );
    assert!(plain.has("ONEX002") && !plain.has("ONEX070"));
}

#[test]
fn non_utf8_file_is_onex001() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("contract.yaml");
    std::fs::write(&p, b"name: x\ncontract_version: \xff\xfe\n").unwrap();
    let r = validate_file(&p, &ValidateOptions::default(), None);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code, "ONEX001");
    assert_eq!(
        (r.diagnostics[0].pos.line, r.diagnostics[0].pos.column),
        (2, 19)
    );
}
