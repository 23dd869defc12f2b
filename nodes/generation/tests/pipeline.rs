//! The shipped generation pipeline, in-process: events, files, failures.

#[path = "../../../tests/support/python.rs"]
mod python;
use python::py312;

mod common;

use common::*;
use onex_engine::pipeline::{GateStatus, StageStatus};

#[tokio::test]
async fn seed_prompt_generates_a_complete_node_with_36_events() {
    let out = tempfile::tempdir().unwrap();
    let run = generate("Create EFFECT node for database writes", out.path()).await;
    let r = &run.result;
    assert!(r.success(), "{}\n{:#?}", r.summary(), r.stages);
    assert_eq!(r.service_name.as_deref(), Some("postgres_writer"));
    assert_eq!(r.generated_files.len(), 12);
    let node_dir = out
        .path()
        .join("node_infrastructure_postgres_writer_effect");
    assert_eq!(r.output_path.as_deref(), Some(node_dir.to_str().unwrap()));
    for f in &r.generated_files {
        assert!(node_dir.join(f).is_file(), "{f} written");
    }
    // Only the node directory is left behind (no staging).
    let top: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        top,
        [std::ffi::OsString::from(
            "node_infrastructure_postgres_writer_effect"
        )]
    );
    // docs/generation.md §5.3: 36 events with --no-compile, seq 1..36.
    let types: Vec<&str> = run.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(run.events.len(), 36, "{types:?}");
    assert_eq!(types[0], "PromptSubmitted");
    assert_eq!(types[35], "PipelineCompleted");
    for (i, e) in run.events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
    }
    assert_eq!(r.stage("compilation").unwrap().status, StageStatus::Skipped);
    assert_eq!(r.compilation_status.as_deref(), Some("skipped"));
    assert!(!r.compilation_passed);
    assert!(r.validation_passed);
}

#[tokio::test]
async fn empty_prompt_fails_in_parsing_with_four_events() {
    let out = tempfile::tempdir().unwrap();
    let run = generate("", out.path()).await;
    assert_eq!(run.result.error_code.as_deref(), Some("INVALID_PROMPT"));
    let types: Vec<&str> = run.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "PromptSubmitted",
            "ParsingStarted",
            "ParsingFailed",
            "PipelineFailed"
        ]
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn existing_node_dir_is_never_overwritten_without_force() {
    let out = tempfile::tempdir().unwrap();
    let first = generate("EFFECT node called CacheWriter writes to Redis", out.path()).await;
    assert!(first.result.success(), "{}", first.result.summary());
    let before = tree(out.path());
    let second = generate("EFFECT node called CacheWriter writes to Redis", out.path()).await;
    assert_eq!(second.result.error_code.as_deref(), Some("OUTPUT_EXISTS"));
    assert_eq!(second.result.failed_gate.as_deref(), Some("G6"));
    assert_eq!(tree(out.path()), before, "output left as it was");
    let g6 = second
        .result
        .stage("pre_validation")
        .unwrap()
        .gates
        .iter()
        .find(|g| g.gate_id == "G6")
        .unwrap()
        .clone();
    assert_eq!(g6.status, GateStatus::Fail);
    assert!(
        g6.recovery_suggestions
            .iter()
            .any(|s| s.contains("--force")),
        "{g6:?}"
    );
}

#[tokio::test]
async fn with_the_pinned_omnibase_core_every_gate_passes_and_compilation_passed() {
    let Some(py) = py312() else { return };
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(
        "Create ORCHESTRATOR node called OrderFlow that coordinates order workflow steps",
        out.path(),
    );
    opts.compile = true;
    let svc = services().with(onex_generation::GenerationSettings {
        python: Some(py),
        probe_imports: true,
        templates_dir: None,
    });
    // The shipped contract with a generous mypy timeout: this asserts what the gates decide, and
    // a loaded test machine can take longer than the 60 s a user gets.
    let dir = tempfile::tempdir().unwrap();
    let text = shipped_text()
        .replacen(
            "params: {timeout_ms: 60000}",
            "params: {timeout_ms: 600000}",
            1,
        )
        .replacen("      timeout_ms: 120000", "      timeout_ms: 900000", 1)
        .replace("timeout_ms: 300000", "timeout_ms: 900000");
    let path = dir.path().join("contract.yaml");
    std::fs::write(&path, text).unwrap();
    let workflow = load(&path).expect("the edited contract validates");
    let run = run_with(&workflow, opts, svc).await;
    let r = &run.result;
    assert!(r.success(), "{}", r.summary());
    let not_passed: Vec<_> = r
        .stages
        .iter()
        .flat_map(|s| &s.gates)
        .filter(|g| g.status != GateStatus::Pass && g.gate_id != "G8")
        .map(|g| format!("{} {:?}: {}", g.gate_id, g.status, g.message))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert_eq!(r.compilation_status.as_deref(), Some("passed"));
    assert!(r.compilation_passed);
    assert_eq!(run.events.len(), 38, "38 events with compilation");
    let compiled = run
        .events
        .iter()
        .find(|e| e.event_type == "CompilationCompleted")
        .unwrap();
    assert_eq!(compiled.payload["import_status"], "pass");
    assert_eq!(compiled.payload["mypy_passed"], true);
}

#[tokio::test]
async fn an_old_python_makes_g4_and_g14_warn_never_fail() {
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(
        "Create EFFECT node called MailSender that sends email via SMTP",
        out.path(),
    );
    opts.compile = true;
    let svc = services().with(onex_generation::GenerationSettings {
        python: Some("python3".into()), // 3.11 on these machines, without omnibase_core
        probe_imports: true,
        templates_dir: None,
    });
    let run = run_with(shipped(), opts, svc).await;
    let r = &run.result;
    assert!(r.success(), "{}", r.summary());
    let gate = |id: &str| {
        r.stages
            .iter()
            .flat_map(|s| &s.gates)
            .find(|g| g.gate_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(gate("G4").status, GateStatus::Warning, "{:?}", gate("G4"));
    assert_eq!(gate("G4").error_code.as_deref(), Some("MISSING_DEPENDENCY"));
    assert!(
        gate("G4").recovery_suggestions[0].contains("0.47.57"),
        "{:?}",
        gate("G4")
    );
    assert_eq!(gate("G14").status, GateStatus::Warning);
    // G14 says how to set the Python up, with the pack's exact pin.
    assert_eq!(
        gate("G14").recovery_suggestions,
        ["Set up a Python 3.12 with omnibase-core 0.47.57: \
          export ONEX_PYTHON=\"$(scripts/python-env.sh)\" (in the onex repository)"],
        "{:?}",
        gate("G14")
    );
    assert_eq!(r.compilation_status.as_deref(), Some("warnings"));
    assert!(!r.compilation_passed);
}

#[tokio::test]
async fn force_replaces_an_existing_node_directory() {
    let out = tempfile::tempdir().unwrap();
    let prompt = "EFFECT node called LedgerWriter writes ledger entries to PostgreSQL";
    let first = generate(prompt, out.path()).await;
    assert!(first.result.success());
    let node = std::path::PathBuf::from(first.result.output_path.clone().unwrap());
    std::fs::write(node.join("stale.txt"), b"from an older generation").unwrap();
    let mut opts = options(prompt, out.path());
    opts.force = true;
    let second = run_with(shipped(), opts, services()).await;
    assert!(second.result.success(), "{}", second.result.summary());
    assert!(
        !node.join("stale.txt").exists(),
        "the old directory was replaced, not merged"
    );
    assert_eq!(
        tree(&node).iter().filter(|(_, b)| !b.is_empty()).count(),
        12
    );
    let started = second
        .events
        .iter()
        .find(|e| e.event_type == "WritingStarted")
        .unwrap();
    assert_eq!(started.payload["replace_existing"], true);
    let manifest = std::fs::read_to_string(node.join("node.manifest.yaml")).unwrap();
    assert!(
        manifest.contains(&second.result.correlation_id.to_string()),
        "the new run's files"
    );
}
