//! Output placement and G6 (docs/generation.md §4.8, §2 G6, §5.2 crash recovery):
//! success leaves exactly `<out>/node_…`; every failure leaves `<out>` byte-for-byte as before;
//! existing dirs are only replaced with force (and restored when that fails); escapes are
//! refused; concurrent runs do not disturb each other; stale staging is purged.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use onex_generation::codegen::compile::GateStatus;
use onex_generation::codegen::output::{
    self, Fault, G6Outcome, OutputErrorCode, OutputPlan, Staging, StagingOptions, g6_check,
};
use uuid::Uuid;

const NODE: &str = "node_data_order_writer_effect";

/// The 12 files of docs/generation.md §4.1 with contents of about 30 KB in total.
fn node_files(cid: Uuid, tag: &str) -> Vec<(String, Vec<u8>)> {
    let names = [
        "node.manifest.yaml",
        "v1_0_0/__init__.py",
        "v1_0_0/node.py",
        "v1_0_0/contract.yaml",
        "v1_0_0/version.manifest.yaml",
        "v1_0_0/models/__init__.py",
        "v1_0_0/models/model_order_writer_input.py",
        "v1_0_0/models/model_order_writer_output.py",
        "v1_0_0/models/model_order_writer_config.py",
        "v1_0_0/models/model_order_writer_effect_contract.py",
        "v1_0_0/enums/__init__.py",
        "v1_0_0/enums/enum_order_writer_operation_type.py",
    ];
    names
        .iter()
        .map(|n| {
            let body = if *n == "node.manifest.yaml" {
                manifest(cid)
            } else {
                format!("# {n} ({tag})\n{}", "x = 1\n".repeat(420))
            };
            (n.to_string(), body.into_bytes())
        })
        .collect()
}

fn manifest(cid: Uuid) -> String {
    format!(
        "schema_version: {{major: 1, minor: 0, patch: 0}}\nname: {NODE}\nx_extensions:\n  \
         generated_by:\n    tool: onex\n    version: 0.1.0\n    correlation_id: {cid}\n"
    )
}

/// Recursive listing with contents: relative path → entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    if fs::symlink_metadata(root).is_err() {
        return out;
    }
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
        let ft = e.file_type();
        let entry = if ft.is_symlink() {
            Entry::Link(fs::read_link(e.path()).unwrap())
        } else if ft.is_dir() {
            Entry::Dir
        } else {
            Entry::File(fs::read(e.path()).unwrap())
        };
        out.insert(rel, entry);
    }
    out
}

fn plan_in(out: &Path, cid: Uuid, force: bool, root: &Path) -> OutputPlan {
    output::plan(out, NODE, cid, force, &[root.to_path_buf()]).unwrap()
}

fn opts() -> StagingOptions {
    StagingOptions::default()
}

fn assert_pass(g: &G6Outcome) {
    assert_eq!(g.gate.status, GateStatus::Pass, "G6: {:?}", g.gate);
}

fn assert_fail(g: &G6Outcome, code: &str, msg_part: &str) {
    assert_eq!(g.gate.status, GateStatus::Fail, "G6: {:?}", g.gate);
    assert_eq!(g.gate.error_code.as_deref(), Some(code), "G6: {:?}", g.gate);
    assert!(
        g.gate.message.contains(msg_part),
        "message {:?} lacks {msg_part:?}",
        g.gate.message
    );
    assert!(!g.gate.recovery_suggestions.is_empty());
    // Outside the roots, the way out is the roots, not the permissions.
    if code == "OUTPUT_OUTSIDE_ROOT" && msg_part == "outside allowed roots" {
        let s = g.gate.recovery_suggestions.join(" ");
        assert!(s.contains("--allowed-root"), "{s}");
        assert!(!s.contains("permissions"), "{s}");
    }
}

/// A run end to end: G6, staging, 12 files, place.
fn full_run(
    out: &Path,
    root: &Path,
    cid: Uuid,
    force: bool,
) -> Result<output::Placed, output::OutputError> {
    let plan = plan_in(out, cid, force, root);
    let g6 = g6_check(&plan);
    assert_pass(&g6);
    let mut st = Staging::create(&plan, opts())?;
    st.write_files(&node_files(cid, "run"), |_| {})?;
    let placed = st.place()?;
    st.cleanup();
    Ok(placed)
}

#[test]
fn success_leaves_exactly_the_node_dir_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a/b/out");
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let g6 = g6_check(&plan);
    assert_pass(&g6);
    assert_eq!(g6.gate.message, format!("'{}' is writable", out.display()));
    assert!(!g6.resumed && !g6.replace_existing);
    // G6 changes nothing: the probe file is gone, nothing is created.
    assert_eq!(snapshot(tmp.path()), BTreeMap::new());

    let mut st = Staging::create(&plan, opts()).unwrap();
    assert_eq!(
        st.created_dirs(),
        [tmp.path().join("a"), tmp.path().join("a/b"), out.clone()]
    );
    let files = node_files(cid, "success");
    let mut progress = Vec::new();
    st.write_files(&files, |p| {
        progress.push((p.current_file.to_string(), p.files_written, p.total_files))
    })
    .unwrap();
    assert_eq!(progress.len(), 12);
    assert_eq!(progress[0], ("node.manifest.yaml".to_string(), 1, 12));
    assert_eq!(progress[11].1, 12);
    let placed = st.place().unwrap();
    let report = st.cleanup();
    assert!(report.removed_run_staging);
    assert_eq!(report.removed_dirs, [out.join(".onex-staging")]);

    assert_eq!(placed.node_dir, out.join(NODE));
    assert_eq!(placed.files.len(), 12);
    assert!(!placed.replaced_existing);
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(placed.total_bytes, total as u64);
    assert!(
        (25_000..40_000).contains(&total),
        "fixture is ~30 KB, got {total}"
    );

    // Exactly <out>/node_… with the 12 files (plus their 3 directories) and nothing else.
    let snap = snapshot(&out);
    let mut expected = BTreeMap::new();
    for d in ["", "/v1_0_0", "/v1_0_0/models", "/v1_0_0/enums"] {
        expected.insert(PathBuf::from(format!("{NODE}{d}")), Entry::Dir);
    }
    for (rel, bytes) in &files {
        expected.insert(PathBuf::from(NODE).join(rel), Entry::File(bytes.clone()));
    }
    assert_eq!(snap, expected);
    // Nothing beside <out> either.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn staged_fast_then_synced_with_progress_per_file() {
    // The generation stage stages with fsync off; the writing stage syncs (WritingProgress each).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let mut st = Staging::create(
        &plan,
        StagingOptions {
            fsync: false,
            ..opts()
        },
    )
    .unwrap();
    let files = node_files(cid, "synced");
    for (rel, bytes) in &files {
        st.write_file(rel, bytes).unwrap();
    }
    let mut seen = Vec::new();
    st.sync_files(|p| {
        seen.push((
            p.current_file.to_string(),
            p.files_written,
            p.total_files,
            p.bytes,
        ))
    })
    .unwrap();
    let expected: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, (rel, b))| (rel.clone(), i + 1, 12, b.len() as u64))
        .collect();
    assert_eq!(seen, expected);
    st.place().unwrap();
    assert!(st.sync_files(|_| {}).is_err(), "sync after placement");
    drop(st);
    assert_eq!(snapshot(&out.join(NODE)).len(), 15);
}

#[test]
fn fsync_off_places_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let mut st = Staging::create(
        &plan,
        StagingOptions {
            fsync: false,
            ..opts()
        },
    )
    .unwrap();
    st.write_files(&node_files(cid, "nofsync"), |_| {}).unwrap();
    st.place().unwrap();
    drop(st);
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
    assert_eq!(snapshot(&out.join(NODE)).len(), 15);
}

/// Populates `<out>` with unrelated content a failed run must leave alone.
fn existing_out(tmp: &Path) -> PathBuf {
    let out = tmp.join("out");
    fs::create_dir_all(out.join("other_node/v1_0_0")).unwrap();
    fs::write(out.join("README.md"), b"keep me\n").unwrap();
    fs::write(out.join("other_node/v1_0_0/node.py"), b"class X: ...\n").unwrap();
    out
}

#[derive(Clone, Copy, Debug)]
enum FailAt {
    BeforeWrite,
    MidWrite,
    BeforePlace,
}

fn failing_run(out: &Path, root: &Path, at: FailAt) {
    let cid = Uuid::new_v4();
    let plan = plan_in(out, cid, false, root);
    assert_pass(&g6_check(&plan));
    let mut st = Staging::create(&plan, opts()).unwrap();
    let files = node_files(cid, "fail");
    match at {
        FailAt::BeforeWrite => {}
        FailAt::MidWrite => {
            for (rel, bytes) in &files[..5] {
                st.write_file(rel, bytes).unwrap();
            }
            // A failing write: the error names the file.
            let err = st.write_file("v1_0_0/../../escape.py", b"x").unwrap_err();
            assert_eq!(err.failed_file.as_deref(), Some("v1_0_0/../../escape.py"));
        }
        FailAt::BeforePlace => st.write_files(&files, |_| {}).unwrap(),
    }
    assert!(plan.staged_node_dir.is_dir());
    // Failure / cancellation / timeout: the guard is dropped without placing.
    drop(st);
}

#[test]
fn failure_at_each_step_leaves_out_byte_for_byte_as_before() {
    for at in [FailAt::BeforeWrite, FailAt::MidWrite, FailAt::BeforePlace] {
        // <out> with content of its own.
        let tmp = tempfile::tempdir().unwrap();
        let out = existing_out(tmp.path());
        let before = snapshot(tmp.path());
        failing_run(&out, tmp.path(), at);
        assert_eq!(
            snapshot(tmp.path()),
            before,
            "{at:?} with an existing <out>"
        );

        // <out> (and two parents) created by the run: all removed again.
        let tmp = tempfile::tempdir().unwrap();
        let before = snapshot(tmp.path());
        failing_run(&tmp.path().join("x/y/out"), tmp.path(), at);
        assert_eq!(snapshot(tmp.path()), before, "{at:?} with a new <out>");
    }
}

#[test]
fn explicit_cleanup_after_failure_is_idempotent_and_keep_failed_keeps_staging() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    let before = snapshot(tmp.path());
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let mut st = Staging::create(&plan, opts()).unwrap();
    st.write_file("node.manifest.yaml", manifest(cid).as_bytes())
        .unwrap();
    let first = st.cleanup();
    assert!(first.removed_run_staging);
    assert_eq!(st.cleanup(), Default::default());
    assert!(
        st.write_file("v1_0_0/node.py", b"x").is_err(),
        "writing after cleanup"
    );
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);

    let mut st = Staging::create(
        &plan,
        StagingOptions {
            keep_failed: true,
            ..opts()
        },
    )
    .unwrap();
    st.write_file("node.manifest.yaml", b"m").unwrap();
    let report = st.cleanup();
    assert_eq!(report.kept.as_deref(), Some(plan.run_staging.as_path()));
    assert_eq!(
        fs::read(plan.staged_node_dir.join("node.manifest.yaml")).unwrap(),
        b"m"
    );
}

#[test]
fn target_appearing_meanwhile_is_output_exists_and_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    assert_pass(&g6_check(&plan));
    let mut st = Staging::create(&plan, opts()).unwrap();
    st.write_files(&node_files(cid, "late"), |_| {}).unwrap();
    // Another process creates the node dir between G6 and placement.
    fs::create_dir(out.join(NODE)).unwrap();
    fs::write(out.join(NODE).join("theirs.txt"), b"theirs").unwrap();
    let before = snapshot(tmp.path());
    let err = st.place().unwrap_err();
    assert_eq!(err.code, OutputErrorCode::OutputExists);
    assert_eq!(err.code.as_str(), "OUTPUT_EXISTS");
    drop(st);
    let mut after = snapshot(tmp.path());
    // Only our staging is gone; their dir is as they left it.
    after.retain(|k, _| !k.starts_with("out/.onex-staging"));
    let mut before_wo = before.clone();
    before_wo.retain(|k, _| !k.starts_with("out/.onex-staging"));
    assert_eq!(after, before_wo);
    assert!(!out.join(".onex-staging").exists());
}

#[test]
fn existing_node_dir_is_never_touched_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir(out.join(NODE)).unwrap();
    fs::write(
        out.join(NODE).join("node.manifest.yaml"),
        manifest(Uuid::new_v4()),
    )
    .unwrap();
    let before = snapshot(tmp.path());
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let g6 = g6_check(&plan);
    assert_fail(
        &g6,
        "OUTPUT_EXISTS",
        &format!("'{}' exists", out.join(NODE).display()),
    );
    assert_eq!(g6.gate.recovery_suggestions, ["Use --force"]);
    // Even if the executor ignored G6, placement refuses.
    let mut st = Staging::create(&plan, opts()).unwrap();
    st.write_files(&node_files(cid, "new"), |_| {}).unwrap();
    assert_eq!(st.place().unwrap_err().code, OutputErrorCode::OutputExists);
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn force_replaces_the_existing_node_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir_all(out.join(NODE).join("v1_0_0")).unwrap();
    fs::write(out.join(NODE).join("v1_0_0/stale.py"), b"old").unwrap();
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, true, tmp.path());
    let g6 = g6_check(&plan);
    assert_pass(&g6);
    assert!(g6.replace_existing && !g6.resumed);
    let mut st = Staging::create(&plan, opts()).unwrap();
    let files = node_files(cid, "forced");
    st.write_files(&files, |_| {}).unwrap();
    let placed = st.place().unwrap();
    assert!(placed.replaced_existing);
    drop(st);
    assert!(!out.join(NODE).join("v1_0_0/stale.py").exists());
    assert_eq!(
        fs::read(out.join(NODE).join("v1_0_0/node.py")).unwrap(),
        files[2].1
    );
    assert!(!out.join(".onex-staging").exists());
    assert_eq!(fs::read(out.join("README.md")).unwrap(), b"keep me\n");
}

#[test]
fn force_replaces_via_the_fallback_rename_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir_all(out.join(NODE)).unwrap();
    fs::write(out.join(NODE).join("old.py"), b"old").unwrap();
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, true, tmp.path());
    let fault = Some(Fault::NoRenameNoreplace);
    let mut st = Staging::create(&plan, StagingOptions { fault, ..opts() }).unwrap();
    let files = node_files(cid, "fallback");
    st.write_files(&files, |_| {}).unwrap();
    assert!(st.place().unwrap().replaced_existing);
    drop(st);
    assert!(!out.join(NODE).join("old.py").exists());
    assert_eq!(snapshot(&out.join(NODE)).len(), 15);
    assert!(!out.join(".onex-staging").exists());
}

#[test]
fn a_symlinked_staging_root_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join(".onex-staging")).unwrap();
    let err =
        Staging::create(&plan_in(&out, Uuid::new_v4(), false, tmp.path()), opts()).unwrap_err();
    assert!(err.message.contains("not a directory"), "{}", err.message);
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn force_restores_the_old_dir_when_the_swap_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir_all(out.join(NODE).join("v1_0_0")).unwrap();
    fs::write(out.join(NODE).join("v1_0_0/mine.py"), b"precious").unwrap();
    let before = snapshot(tmp.path());
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, true, tmp.path());
    let mut st = Staging::create(
        &plan,
        StagingOptions {
            fault: Some(Fault::ReplaceMoveIn),
            ..opts()
        },
    )
    .unwrap();
    st.write_files(&node_files(cid, "new"), |_| {}).unwrap();
    let err = st.place().unwrap_err();
    assert_eq!(err.code, OutputErrorCode::FileWriteError);
    assert!(err.rollback_performed);
    assert!(err.message.contains("restored"), "{}", err.message);
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn force_keeps_the_old_dir_in_staging_when_the_restore_fails_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir_all(out.join(NODE)).unwrap();
    fs::write(out.join(NODE).join("mine.py"), b"precious").unwrap();
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, true, tmp.path());
    let mut st = Staging::create(
        &plan,
        StagingOptions {
            fault: Some(Fault::ReplaceMoveInAndRestore),
            ..opts()
        },
    )
    .unwrap();
    st.write_files(&node_files(cid, "new"), |_| {}).unwrap();
    let err = st.place().unwrap_err();
    assert!(!err.rollback_performed);
    let kept = err.path.clone().unwrap();
    assert!(err.message.contains(&kept.display().to_string()));
    let report = st.cleanup();
    assert_eq!(report.kept.as_deref(), Some(plan.run_staging.as_path()));
    // Never deleted: the user's files survive where the message says.
    assert_eq!(fs::read(kept.join("mine.py")).unwrap(), b"precious");
}

#[test]
fn parent_dir_components_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("a")).unwrap();
    let out = tmp.path().join("a/../a/out");
    let plan = output::plan(
        &out,
        NODE,
        Uuid::new_v4(),
        false,
        &[tmp.path().to_path_buf()],
    )
    .unwrap();
    assert_fail(&g6_check(&plan), "OUTPUT_OUTSIDE_ROOT", "'..' not allowed");
}

#[test]
fn outside_allowed_roots_is_refused_also_through_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    let before = snapshot(tmp.path());

    // Plainly outside.
    let plan = output::plan(
        &elsewhere.join("out"),
        NODE,
        Uuid::new_v4(),
        false,
        std::slice::from_ref(&root),
    )
    .unwrap();
    assert_fail(
        &g6_check(&plan),
        "OUTPUT_OUTSIDE_ROOT",
        "outside allowed roots",
    );
    // Lexically inside, but a symlink leads out (existing and not-yet-existing targets).
    for out in [root.join("link"), root.join("link/new/out")] {
        let plan = output::plan(
            &out,
            NODE,
            Uuid::new_v4(),
            false,
            std::slice::from_ref(&root),
        )
        .unwrap();
        let g6 = g6_check(&plan);
        assert_fail(&g6, "OUTPUT_OUTSIDE_ROOT", "outside allowed roots");
    }
    // No roots at all: nothing is allowed.
    let plan = output::plan(&root.join("out"), NODE, Uuid::new_v4(), false, &[]).unwrap();
    assert_fail(
        &g6_check(&plan),
        "OUTPUT_OUTSIDE_ROOT",
        "outside allowed roots",
    );
    // Roots are canonicalised too: `root/link` as a root means `elsewhere`.
    let plan = output::plan(
        &root.join("sub"),
        NODE,
        Uuid::new_v4(),
        false,
        &[root.join("link")],
    )
    .unwrap();
    assert_fail(
        &g6_check(&plan),
        "OUTPUT_OUTSIDE_ROOT",
        "outside allowed roots",
    );
    let plan = output::plan(
        &root.join("link/sub"),
        NODE,
        Uuid::new_v4(),
        false,
        std::slice::from_ref(&elsewhere),
    )
    .unwrap();
    assert_pass(&g6_check(&plan));
    assert_eq!(snapshot(tmp.path()), before, "G6 must not change anything");
}

#[test]
fn file_paths_escaping_the_node_dir_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    let mut st = Staging::create(&plan, opts()).unwrap();
    for bad in [
        "/etc/passwd".to_string(),
        format!("{}/x.py", outside.display()),
        "../escape.py".to_string(),
        "v1_0_0/../../escape.py".to_string(),
        "".to_string(),
    ] {
        let err = st.write_file(&bad, b"x").unwrap_err();
        assert_eq!(err.code, OutputErrorCode::FileWriteError, "{bad}");
        assert_eq!(err.failed_file.as_deref(), Some(bad.as_str()));
    }
    // A symlinked directory component planted inside staging is not followed.
    std::os::unix::fs::symlink(&outside, plan.staged_node_dir.join("v1_0_0")).unwrap();
    let err = st.write_file("v1_0_0/node.py", b"x").unwrap_err();
    assert!(err.message.contains("symlink"), "{}", err.message);
    // A symlink planted at the file itself is not followed either (O_EXCL).
    std::os::unix::fs::symlink(outside.join("target.py"), plan.staged_node_dir.join("f.py"))
        .unwrap();
    let err = st.write_file("f.py", b"x").unwrap_err();
    assert!(
        err.message.contains("a symlink is in its place"),
        "{}",
        err.message
    );
    st.write_file("g.py", b"x").unwrap();
    let err = st.write_file("g.py", b"y").unwrap_err();
    assert!(err.message.contains("written twice"), "{}", err.message);
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
    drop(st);
    assert!(!out.exists(), "the created <out> is removed again");
    assert!(outside.is_dir());
}

#[test]
fn not_writable_under_a_file() {
    // Works as root too: nothing can be created below a regular file.
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("afile"), b"x").unwrap();
    let out = tmp.path().join("afile/out");
    let plan = plan_in(&out, Uuid::new_v4(), false, tmp.path());
    let g6 = g6_check(&plan);
    assert_fail(&g6, "OUTPUT_NOT_WRITABLE", "not writable: ");
    assert_eq!(
        g6.gate.recovery_suggestions,
        ["Fix permissions or choose another -o"]
    );
    // <out> itself a file.
    let plan = plan_in(&tmp.path().join("afile"), Uuid::new_v4(), false, tmp.path());
    assert_fail(&g6_check(&plan), "OUTPUT_NOT_WRITABLE", "not a directory");
    // Staging refuses too.
    let err =
        Staging::create(&plan_in(&out, Uuid::new_v4(), false, tmp.path()), opts()).unwrap_err();
    assert_eq!(err.code, OutputErrorCode::DirectoryNotFound);
}

/// Makes `dir` unwritable for the current user, honestly: mode 0555 for a normal user; for root
/// (which ignores mode bits) the immutable inode flag (`chattr +i`), which binds root too.
/// Returns a guard that undoes it, or None (with the reason printed) when that is impossible here.
struct Unwritable(PathBuf, bool);

impl Unwritable {
    fn make(dir: &Path) -> Option<Unwritable> {
        use std::os::unix::fs::PermissionsExt;
        if !rustix::process::geteuid().is_root() {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
            return Some(Unwritable(dir.to_path_buf(), false));
        }
        let f = fs::File::open(dir).unwrap();
        let flags = match rustix::fs::ioctl_getflags(&f) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("SKIPPED read-only dir as root: FS_IOC_GETFLAGS unsupported here: {e}");
                return None;
            }
        };
        match rustix::fs::ioctl_setflags(&f, flags | rustix::fs::IFlags::IMMUTABLE) {
            Ok(()) => Some(Unwritable(dir.to_path_buf(), true)),
            Err(e) => {
                eprintln!(
                    "SKIPPED read-only dir as root: cannot set the immutable flag \
                     (no CAP_LINUX_IMMUTABLE or unsupported file system): {e}"
                );
                None
            }
        }
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.1 {
            let f = fs::File::open(&self.0).unwrap();
            let flags = rustix::fs::ioctl_getflags(&f).unwrap();
            rustix::fs::ioctl_setflags(&f, flags - rustix::fs::IFlags::IMMUTABLE).unwrap();
        } else {
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn not_writable_read_only_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let ro = tmp.path().join("ro");
    fs::create_dir(&ro).unwrap();
    let Some(_guard) = Unwritable::make(&ro) else {
        return;
    };
    // <out> is the read-only dir, or a dir to be created inside it.
    for out in [ro.clone(), ro.join("new/out")] {
        let plan = plan_in(&out, Uuid::new_v4(), false, tmp.path());
        let g6 = g6_check(&plan);
        assert_fail(&g6, "OUTPUT_NOT_WRITABLE", "not writable: ");
        assert!(
            g6.gate.message.contains(".onex-probe-"),
            "{}",
            g6.gate.message
        );
        let err = Staging::create(&plan, opts()).unwrap_err();
        assert_eq!(err.code, OutputErrorCode::PermissionDenied, "{err}");
    }
    assert_eq!(fs::read_dir(&ro).unwrap().count(), 0);
}

/// A 16 KiB tmpfs mounted on a temp dir (root with CAP_SYS_ADMIN only), unmounted on drop.
struct TinyFs(PathBuf);

impl TinyFs {
    fn mount(dir: &Path) -> Option<TinyFs> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(TinyFs(dir.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "SKIPPED disk-full test: cannot mount a small tmpfs here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED disk-full test: no mount command: {e}");
                None
            }
        }
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn disk_full_mid_write_is_disk_full_and_leaves_out_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let Some(_fs) = TinyFs::mount(&mnt) else {
        return;
    };
    let out = mnt.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("README.md"), b"keep me\n").unwrap();
    let before = snapshot(&mnt);
    let cid = Uuid::new_v4();
    let plan = plan_in(&out, cid, false, tmp.path());
    assert_pass(&g6_check(&plan));
    let mut st = Staging::create(&plan, opts()).unwrap();
    let mut written = 0;
    let err = st
        .write_files(&node_files(cid, "full"), |p| written = p.files_written)
        .unwrap_err();
    assert_eq!(err.code, OutputErrorCode::DiskFull, "{err}");
    assert_eq!(err.code.as_str(), "DISK_FULL");
    assert!(
        written > 0 && written < 12,
        "failed mid-write, after {written} files"
    );
    assert!(err.failed_file.is_some());
    drop(st);
    assert_eq!(snapshot(&mnt), before);
}

#[test]
fn concurrent_runs_into_one_out_do_not_disturb_each_other() {
    for round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("shared/out");
        let barrier = Arc::new(Barrier::new(3));
        let mut handles = Vec::new();
        // Two successful runs with different node dirs and one that fails (cancelled after
        // writing): the failing run's cleanup must not remove the others' staging or <out>.
        for (i, fails) in [(0, false), (1, false), (2, true)] {
            let (out, root, barrier) = (out.clone(), tmp.path().to_path_buf(), barrier.clone());
            handles.push(std::thread::spawn(move || {
                let cid = Uuid::new_v4();
                let name = format!("node_data_svc{i}_effect");
                let plan = output::plan(&out, &name, cid, false, &[root]).unwrap();
                barrier.wait();
                let mut st = Staging::create(&plan, opts()).unwrap();
                let files = node_files(cid, &name);
                st.write_files(&files, |_| {}).unwrap();
                if fails {
                    drop(st);
                    return None;
                }
                st.place().unwrap();
                Some((name, files))
            }));
        }
        let done: Vec<_> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        let mut names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["node_data_svc0_effect", "node_data_svc1_effect"],
            "round {round}"
        );
        for (name, files) in done {
            for (rel, bytes) in files {
                assert_eq!(fs::read(out.join(&name).join(rel)).unwrap(), bytes);
            }
        }
    }
}

#[test]
fn concurrent_runs_for_the_same_node_dir_one_wins_one_gets_output_exists() {
    same_node_dir_race(None);
}

#[test]
fn the_lock_and_check_fallback_also_lets_exactly_one_run_win() {
    // File systems without RENAME_NOREPLACE take the flock + check + rename path.
    for _ in 0..10 {
        same_node_dir_race(Some(Fault::NoRenameNoreplace));
    }
}

fn same_node_dir_race(fault: Option<Fault>) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (out, root, barrier) = (out.clone(), tmp.path().to_path_buf(), barrier.clone());
            std::thread::spawn(move || {
                let cid = Uuid::new_v4();
                let plan = output::plan(&out, NODE, cid, false, &[root]).unwrap();
                let mut st = Staging::create(&plan, StagingOptions { fault, ..opts() }).unwrap();
                let files = node_files(cid, &format!("run{i}"));
                st.write_files(&files, |_| {}).unwrap();
                barrier.wait();
                st.place().map(|_| files).map_err(|e| e.code)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .any(|r| r == &Err(OutputErrorCode::OutputExists))
    );
    for (rel, bytes) in winners[0] {
        assert_eq!(&fs::read(out.join(NODE).join(rel)).unwrap(), bytes);
    }
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
}

fn set_mtime(p: &Path, age: Duration) {
    let t = SystemTime::now() - age;
    fs::File::open(p)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
        .unwrap();
}

#[test]
fn stale_staging_of_other_runs_is_purged_fresh_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    let staging = out.join(".onex-staging");
    let stale = staging.join(Uuid::new_v4().to_string());
    let fresh = staging.join(Uuid::new_v4().to_string());
    let not_a_run = staging.join("not-a-run");
    for d in [&stale, &fresh, &not_a_run] {
        fs::create_dir_all(d.join(NODE)).unwrap();
        fs::write(d.join(NODE).join("node.py"), b"x").unwrap();
    }
    set_mtime(&stale, Duration::from_secs(25 * 3600));
    set_mtime(&fresh, Duration::from_secs(23 * 3600));
    set_mtime(&not_a_run, Duration::from_secs(48 * 3600));
    let placed = full_run(&out, tmp.path(), Uuid::new_v4(), false).unwrap();
    assert!(placed.node_dir.is_dir());
    assert!(!stale.exists(), "stale staging purged");
    assert!(
        fresh.join(NODE).join("node.py").is_file(),
        "a run in progress is kept"
    );
    assert!(not_a_run.is_dir(), "only run dirs (UUID names) are purged");
    // .onex-staging stays: not empty.
    assert!(staging.is_dir());
}

#[test]
fn crash_recovery_resumes_own_node_dir_and_refuses_another_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cid = Uuid::new_v4();
    full_run(&out, tmp.path(), cid, false).unwrap();
    let before = snapshot(tmp.path());

    // Redelivery of the same run after a crash after the rename: accepted, not rewritten.
    let plan = plan_in(&out, cid, false, tmp.path());
    let g6 = g6_check(&plan);
    assert_pass(&g6);
    assert!(g6.resumed);
    assert_eq!(
        g6.gate.message,
        format!("'{}' already written by this run", out.join(NODE).display())
    );
    // Resumed wins over force: our own dir is never replaced.
    let g6f = g6_check(&plan_in(&out, cid, true, tmp.path()));
    assert!(g6f.resumed && !g6f.replace_existing);
    assert_eq!(snapshot(tmp.path()), before);

    // Another run's node dir: OUTPUT_EXISTS (or replaced with force).
    let other = plan_in(&out, Uuid::new_v4(), false, tmp.path());
    assert_fail(&g6_check(&other), "OUTPUT_EXISTS", "exists");
    let other_forced = g6_check(&plan_in(&out, Uuid::new_v4(), true, tmp.path()));
    assert!(other_forced.replace_existing && !other_forced.resumed);

    // A manifest that is not ours in form (garbage, no id, a symlink) is not recognised.
    for body in [
        "::: not yaml :::",
        "name: x\n",
        "x_extensions: {generated_by: {correlation_id: 5}}\n",
    ] {
        fs::write(out.join(NODE).join("node.manifest.yaml"), body).unwrap();
        assert_fail(&g6_check(&plan), "OUTPUT_EXISTS", "exists");
    }
    assert_eq!(output::manifest_correlation_id(&out.join(NODE)), None);
}

#[test]
fn redelivery_deletes_its_own_leftover_staging_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    let before = snapshot(tmp.path());
    let cid = Uuid::new_v4();
    // The crashed attempt left a half-written staging dir (and an old replaced slot).
    let leftover = out.join(".onex-staging").join(cid.to_string());
    fs::create_dir_all(leftover.join(NODE).join("v1_0_0")).unwrap();
    fs::write(leftover.join(NODE).join("v1_0_0/node.py"), b"half").unwrap();
    let plan = plan_in(&out, cid, false, tmp.path());
    let st = Staging::create(&plan, opts()).unwrap();
    assert_eq!(
        snapshot(&plan.run_staging).len(),
        1,
        "only the fresh empty node dir"
    );
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn redelivery_after_a_crash_mid_swap_puts_the_old_node_dir_back() {
    let tmp = tempfile::tempdir().unwrap();
    let out = existing_out(tmp.path());
    fs::create_dir_all(out.join(NODE).join("v1_0_0")).unwrap();
    fs::write(out.join(NODE).join("v1_0_0/mine.py"), b"precious").unwrap();
    let before = snapshot(tmp.path());
    // The crash came after the old dir was moved out and before the new one was moved in.
    let cid = Uuid::new_v4();
    let run = out.join(".onex-staging").join(cid.to_string());
    fs::create_dir_all(run.join(NODE)).unwrap();
    fs::write(run.join(NODE).join("half.py"), b"new, unfinished").unwrap();
    fs::rename(out.join(NODE), run.join(format!("replaced-{NODE}"))).unwrap();
    assert!(!out.join(NODE).exists());

    let plan = plan_in(&out, cid, true, tmp.path());
    let st = Staging::create(&plan, opts()).unwrap();
    assert_eq!(
        fs::read(out.join(NODE).join("v1_0_0/mine.py")).unwrap(),
        b"precious"
    );
    assert_eq!(
        snapshot(&plan.run_staging).len(),
        1,
        "leftovers gone, fresh staging"
    );
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);

    // The swap had completed (new dir in place): the parked old copy is simply deleted.
    fs::create_dir_all(run.join(format!("replaced-{NODE}"))).unwrap();
    fs::write(run.join(format!("replaced-{NODE}")).join("old.py"), b"old").unwrap();
    let st = Staging::create(&plan, opts()).unwrap();
    drop(st);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn staging_root_removed_by_another_runs_cleanup_is_recreated() {
    // Run A prepares; run B (created and cleaned up in between) removes nothing of A's; then a
    // run starting after an empty `.onex-staging` was removed recreates it.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let a = plan_in(&out, Uuid::new_v4(), false, tmp.path());
    let mut st_a = Staging::create(&a, opts()).unwrap();
    let b = plan_in(&out, Uuid::new_v4(), false, tmp.path());
    let st_b = Staging::create(&b, opts()).unwrap();
    drop(st_b);
    assert!(
        a.staged_node_dir.is_dir(),
        "B's cleanup left A's staging alone"
    );
    st_a.write_files(&node_files(a.correlation_id, "a"), |_| {})
        .unwrap();
    st_a.place().unwrap();
    drop(st_a);
    assert!(!out.join(".onex-staging").exists());
    let c = plan_in(&out, Uuid::new_v4(), false, tmp.path());
    let st_c = Staging::create(&c, opts()).unwrap();
    assert!(c.staged_node_dir.is_dir());
    drop(st_c);
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn relative_out_dir_is_made_absolute() {
    let cwd = std::env::current_dir().unwrap();
    let plan = output::plan(Path::new("some/./rel"), NODE, Uuid::new_v4(), false, &[]).unwrap();
    assert_eq!(plan.out_dir, cwd.join("some/rel"));
    assert!(plan.allowed_roots.is_empty());
}

#[test]
fn staging_can_move_between_threads() {
    // The executor keeps a run's Staging in a resource map shared across tasks.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Staging>();
    assert_send_sync::<OutputPlan>();
    assert_send_sync::<output::OutputError>();
}

/// Issue D8: a component of `<out>` flipped between a directory and a symlink to outside the
/// allowed root while runs write there. Every run resolves `<out>` once and works through
/// directory descriptors, so each either writes inside the root or fails; nothing — no file, no
/// staging dir, no probe — ever lands outside, and no staging is left behind.
#[test]
fn flipping_a_path_component_to_a_symlink_never_writes_outside_the_root() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(root.join("flip")).unwrap();
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("alt")).unwrap();

    // The flipper swaps `root/flip` (a directory) and `root/alt` (a symlink to `outside`)
    // atomically each time the writers have finished PACE more runs; the writers never get more
    // than two flips ahead. So runs overlap flips at every step, and some get through between.
    const THREADS: usize = 4;
    const RUNS: usize = 75;
    const PACE: usize = 3;
    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let flipper = {
        let (root, stop, flips, finished) =
            (root.clone(), stop.clone(), flips.clone(), finished.clone());
        std::thread::spawn(move || {
            let dir = fs::File::open(&root).unwrap();
            while !stop.load(Ordering::Relaxed) {
                if finished.load(Ordering::Relaxed) < (flips.load(Ordering::Relaxed) + 1) * PACE {
                    std::thread::yield_now();
                    continue;
                }
                rustix::fs::renameat_with(
                    &dir,
                    "flip",
                    &dir,
                    "alt",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                flips.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    /// One run into `<root>/<rel>`; true when it placed its node dir.
    fn run(root: &Path, rel: &str, name: &str) -> bool {
        let cid = Uuid::new_v4();
        let plan = output::plan(&root.join(rel), name, cid, false, &[root.to_path_buf()]).unwrap();
        if !g6_check(&plan).passed() {
            return false;
        }
        let opts = StagingOptions {
            fsync: false,
            ..opts()
        };
        let Ok(mut st) = Staging::create(&plan, opts) else {
            return false;
        };
        if st.write_files(&node_files(cid, name), |_| {}).is_err() {
            return false;
        }
        let placed = st.place().is_ok();
        st.cleanup();
        placed
    }

    let placed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (root, placed, finished, flips) = (
                root.clone(),
                placed.clone(),
                finished.clone(),
                flips.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..RUNS {
                    while finished.load(Ordering::Relaxed)
                        >= (flips.load(Ordering::Relaxed) + 2) * PACE
                    {
                        std::thread::yield_now();
                    }
                    // Half the runs also create directories below the flipped component.
                    let sub = if i % 2 == 0 { "" } else { "sub/deeper/" };
                    let name = format!("node_t{t}_r{i}_effect");
                    if run(&root, &format!("flip/{sub}"), &name) {
                        placed.lock().unwrap().push(format!("{sub}{name}"));
                    }
                    finished.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();

    let leaked: Vec<_> = walkdir::WalkDir::new(&outside)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .collect();
    assert!(leaked.is_empty(), "written outside the root: {leaked:#?}");
    let left: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == ".onex-staging" || n.starts_with(".onex-probe-"))
        })
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:#?}");
    // The directory is named `flip` or `alt` now, depending on the last swap.
    let real = ["flip", "alt"]
        .iter()
        .map(|n| root.join(n))
        .find(|p| fs::symlink_metadata(p).unwrap().is_dir())
        .unwrap();
    let placed = placed.lock().unwrap();
    for p in placed.iter() {
        let manifest = real.join(p).join("node.manifest.yaml");
        assert!(manifest.is_file(), "{} missing", manifest.display());
    }
    // The race was exercised: the component flipped many times, and runs got through between.
    let flips = flips.load(Ordering::Relaxed);
    eprintln!(
        "{flips} flips, {} of {} runs placed",
        placed.len(),
        THREADS * RUNS
    );
    assert!(flips > 10, "only {flips} flips");
    assert!(!placed.is_empty(), "no run placed its node dir");
}
