//! `onex diff`: the structural diff and the compatibility verdict on versions of the generic
//! job workflow (tests/fixtures/contract-tests), and which runs in flight a new version could
//! take over.

use onex_engine::contract::diff::{self, Compat};
use onex_engine::events::{Component, EventStatus, OutcomeStatus, RunOutcome};
use onex_engine::pipeline::Handlers;
use onex_engine::pipeline::run::{event_source, trigger_envelope};
use onex_engine::workflow::Workflow;
use serde_json::json;
use std::path::PathBuf;
use uuid::Uuid;

fn load(name: &str) -> Workflow {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/contract-tests")
        .join(name);
    Workflow::load(&p, &Handlers::builtin()).unwrap_or_else(|d| panic!("{name}: {d:#?}"))
}

fn kinds(d: &diff::WorkflowDiff, compat: Compat) -> Vec<String> {
    d.changes
        .iter()
        .filter(|c| c.compat == compat)
        .map(|c| format!("{} {}", c.kind, c.subject))
        .collect()
}

#[test]
fn the_same_version_has_no_change() {
    let d = diff::diff(&load("job.yaml"), &load("job.yaml"));
    assert!(d.changes.is_empty(), "{:#?}", d.changes);
    assert!(!d.breaking());
}

#[test]
fn additions_and_behaviour_changes_are_compatible() {
    let d = diff::diff(&load("job.yaml"), &load("job_compatible.yaml"));
    assert!(!d.breaking(), "{:#?}", d.changes);
    assert_eq!(
        kinds(&d, Compat::Compatible),
        [
            "stage.changed stages/build",
            "gate.added stages/build/gates/B3",
            "result.added result/size"
        ]
    );
    assert!(d.changes[0].message.contains("timeout 20000 ms → 25000 ms"));
    assert!(
        d.changes[1].at.ends_with("job_compatible.yaml:53:11"),
        "{}",
        d.changes[1].at
    );
    assert_eq!(
        (d.old.version.as_str(), d.new.version.as_str()),
        ("1.2.0", "1.3.0")
    );
}

#[test]
fn removals_trigger_changes_and_stricter_triggers_are_breaking() {
    let d = diff::diff(&load("job.yaml"), &load("job_breaking.yaml"));
    assert!(d.breaking());
    assert_eq!(
        kinds(&d, Compat::Breaking),
        [
            "trigger.added triggers/JobStepDone",
            "stage.removed stages/report",
            "payload.required events/JobSubmitted/size",
            "result.removed result/built",
        ]
    );
    assert_eq!(
        kinds(&d, Compat::Compatible),
        [
            "stage.added stages/audit",
            "gate.changed stages/build/gates/B2",
            "payload.added events/JobSubmitted/priority",
        ]
    );
    let removed = &d.changes[1];
    assert!(
        removed.at.ends_with("job.yaml:51:7"),
        "a removal points into OLD: {}",
        removed.at
    );
    assert!(
        d.changes
            .iter()
            .any(|c| c.message == "gate B2: type WARNING → BLOCKING")
    );
    // Backwards is breaking too: the stage and trigger come back, the field goes.
    let back = diff::diff(&load("job_breaking.yaml"), &load("job.yaml"));
    assert!(
        kinds(&back, Compat::Breaking).contains(&"trigger.removed triggers/JobStepDone".to_owned())
    );
    assert!(kinds(&back, Compat::Breaking).contains(&"stage.removed stages/audit".to_owned()));
}

#[test]
fn runs_in_flight_can_be_taken_over_where_their_stage_remains() {
    let old = load("job.yaml");
    let new = load("job_breaking.yaml");
    let mk = |cid: Uuid, seq: u64, ty: &str, stage: &str, status: EventStatus| {
        let mut e = trigger_envelope(ty, json!({}), cid, event_source(Component::Orchestrator));
        e.seq = seq;
        e.stage = stage.into();
        e.status = status;
        e.workflow = Some(old.id.clone());
        e
    };
    let (in_build, in_report, done, queued) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let mut queued_trigger = trigger_envelope(
        "JobSubmitted",
        json!({"job": "x"}),
        queued,
        event_source(Component::Cli),
    );
    queued_trigger.workflow = None;
    let mut finished = mk(done, 8, "RunCompleted", "pipeline", EventStatus::Completed);
    finished.outcome = Some(RunOutcome {
        status: OutcomeStatus::Success,
        outputs: Default::default(),
        failure: None,
        caused_by: None,
    });
    let events = vec![
        mk(in_build, 4, "StageStarted", "build", EventStatus::Started),
        mk(in_report, 6, "StageStarted", "report", EventStatus::Started),
        finished,
        queued_trigger,
    ];
    let runs = diff::in_flight(&events, &old.id.name, &new);
    let by = |id: Uuid| runs.iter().find(|r| r.correlation_id == id);
    assert!(by(done).is_none(), "a finished run is not in flight");
    assert!(by(in_build).unwrap().can_take_over);
    let r = by(in_report).unwrap();
    assert!(!r.can_take_over && r.stage == "report", "{r:?}");
    assert!(
        r.reason.contains("stage report is not in test_job 2.0.0"),
        "{}",
        r.reason
    );
    assert!(by(queued).unwrap().can_take_over);
}
