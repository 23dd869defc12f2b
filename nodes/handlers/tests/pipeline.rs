//! The shipped generation pipeline, in-process: events, files, failures.

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
    // §5.3: 36 events with --no-compile, seq 1..36.
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
