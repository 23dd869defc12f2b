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

#[test]
fn file_over_10_mib_is_onex001() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("contract.yaml");
    let mut text = String::from(HEAD);
    text.push_str(&format!("# {}\n", "x".repeat(10 * 1024 * 1024)));
    std::fs::write(&p, text).unwrap();
    let r = validate_file(&p, &ValidateOptions::default(), None);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code, "ONEX001");
    assert!(r.diagnostics[0].message.contains("10 MiB"));
}

#[test]
fn non_utf8_or_directory_include_target_is_onex081() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("_bin.yaml"), b"a: \xff\n").unwrap();
    std::fs::write(
        dir.path().join("contract.yaml"),
        format!("{HEAD}a: !include _bin.yaml\nb: !include sub\n"),
    )
    .unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    let lines: Vec<(u32, &str)> = r
        .diagnostics
        .iter()
        .filter(|d| d.code == "ONEX081")
        .map(|d| (d.pos.line, d.message.as_str()))
        .collect();
    assert_eq!(lines.len(), 2, "{:?}", r.diagnostics);
    assert!(lines[0].1.contains("UTF-8") && lines[0].0 == 4);
    assert!(lines[1].1.contains("not a regular file") && lines[1].0 == 5);
}

#[test]
fn same_fragment_included_twice_is_not_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("_f.yaml"), "x: 1\n").unwrap();
    std::fs::write(
        dir.path().join("contract.yaml"),
        format!("{HEAD}a: !include _f.yaml\nb: !include _f.yaml\n"),
    )
    .unwrap();
    let r = validate_file(
        &dir.path().join("contract.yaml"),
        &ValidateOptions::default(),
        None,
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let doc = r.doc.unwrap();
    assert_eq!(doc.value["a"], doc.value["b"]);
    assert!(doc.locate("/b/x").path.ends_with("_f.yaml"));
}

#[test]
fn random_include_graphs_never_panic_and_cycles_are_found() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    // Up to 6 fragments, each including up to 3 others (by index).
    let strategy = prop::collection::vec(prop::collection::vec(0usize..6, 0..3), 1..6);
    runner
        .run(&strategy, |edges| {
            let dir = tempfile::tempdir().unwrap();
            let n = edges.len();
            for (i, outs) in edges.iter().enumerate() {
                let mut text = format!("id: {i}\n");
                for (k, j) in outs.iter().enumerate() {
                    text.push_str(&format!("inc{k}: !include _{}.yaml\n", j % n));
                }
                std::fs::write(dir.path().join(format!("_{i}.yaml")), text).unwrap();
            }
            std::fs::write(
                dir.path().join("contract.yaml"),
                format!("{HEAD}root: !include _0.yaml\n"),
            )
            .unwrap();
            let r = validate_file(
                &dir.path().join("contract.yaml"),
                &ValidateOptions::default(),
                None,
            );
            // Is a cycle reachable from fragment 0?
            fn reach(edges: &[Vec<usize>], at: usize, stack: &mut Vec<usize>) -> bool {
                if stack.contains(&at) {
                    return true;
                }
                stack.push(at);
                let n = edges.len();
                let found = edges[at].iter().any(|j| reach(edges, j % n, stack));
                stack.pop();
                found
            }
            let cyclic = reach(&edges, 0, &mut Vec::new());
            prop_assert_eq!(r.has("ONEX082"), cyclic, "{:?} {:?}", edges, r.diagnostics);
            prop_assert!(
                r.diagnostics.iter().all(|d| d.code == "ONEX082"),
                "{:?}",
                r.diagnostics
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_symlinked_top_level_file_includes_relative_to_where_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(
        b.join("real.yaml"),
        format!("{HEAD}part: !include _frag.yaml\n"),
    )
    .unwrap();
    std::fs::write(a.join("_frag.yaml"), "x: 1\n").unwrap();
    std::os::unix::fs::symlink(b.join("real.yaml"), a.join("contract.yaml")).unwrap();
    let r = validate_file(&a.join("contract.yaml"), &ValidateOptions::default(), None);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.doc.unwrap().value["part"]["x"], 1);
}

#[test]
fn a_fifo_is_onex001_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("contract.yaml");
    let status = std::process::Command::new("mkfifo").arg(&p).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let r = validate_file(&p, &ValidateOptions::default(), None);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code, "ONEX001");
    assert!(r.diagnostics[0].message.contains("regular file"));
}
