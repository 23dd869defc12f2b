//! One orchestrator hosting several workflows on the embedded bus (no node generation): each
//! trigger type routed to its workflow, a workflow chained on another's terminal event as a run
//! of its own (derived correlation id, causation link), and two workflows claiming one trigger
//! refused at start-up.

use onex_engine::bus::{self, BusConfig, EventBus, ObserveFrom, Role};
use onex_engine::events::{Component, Envelope};
use onex_engine::pipeline::run::{derived_run_id, event_source, trigger_envelope};
use onex_engine::pipeline::{Executor, Handlers, Services};
use onex_engine::service::{Orchestrator, OrchestratorOptions};
use onex_engine::workflow::{Workflow, WorkflowSet};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/workflows")
        .join(name)
}

fn load(name: &str) -> Workflow {
    Workflow::load(&fixture(name), &Handlers::builtin())
        .unwrap_or_else(|d| panic!("{name} does not validate: {d:#?}"))
}

/// Reads every event on the bus until `done` holds for the events seen so far (the bus is
/// observed from the beginning, so nothing published before is missed).
async fn observe_until(
    bus: &dyn EventBus,
    mut done: impl FnMut(&[Envelope]) -> bool,
) -> Vec<Envelope> {
    let topics = bus.all_topics();
    let mut obs = bus.observe(&topics, ObserveFrom::Beginning).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(&seen) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done within 60 s; saw {:?}",
            seen.iter().map(|e| &e.event_type).collect::<Vec<_>>()
        );
        if let Some(o) = obs.next(Duration::from_millis(500)).await.unwrap() {
            seen.push(o.envelope);
        }
    }
    seen
}

#[tokio::test]
async fn a_chained_workflow_runs_on_the_first_ones_terminal_event() {
    let dir = tempfile::tempdir().unwrap();
    let set = Arc::new(WorkflowSet::new(vec![load("job.yaml"), load("job_audit.yaml")]).unwrap());
    let cfg = BusConfig::with_url(format!("embedded:{}", dir.path().join("bus").display()));
    let bus = bus::connect(&cfg, Role::Service, set.events().clone())
        .await
        .unwrap();
    let exec = Executor::new(
        Arc::new(Handlers::builtin()),
        Arc::new(Services::default()),
        set.events().clone(),
        event_source(Component::Orchestrator),
    );
    let orch = Orchestrator::new(
        bus.clone(),
        Arc::new(exec),
        set,
        OrchestratorOptions::default(),
    );
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn({
        let (orch, shutdown) = (orch.clone(), shutdown.clone());
        async move { orch.run(shutdown).await }
    });

    let job = Uuid::now_v7();
    let trigger = trigger_envelope(
        "JobSubmitted",
        json!({"job": "nightly", "size": 4}),
        job,
        event_source(Component::Cli),
    );
    bus.publish(&trigger).await.unwrap();

    let events = observe_until(bus.as_ref(), |seen| {
        seen.iter().any(|e| e.event_type == "RunCompleted")
    })
    .await;
    shutdown.cancel();
    serving.await.unwrap().unwrap();

    let finished = events
        .iter()
        .find(|e| e.event_type == "JobFinished")
        .expect("the job's terminal event");
    assert_eq!(finished.correlation_id, job);
    assert_eq!(finished.payload["total"], 40);
    assert_eq!(finished.workflow.as_ref().unwrap().name, "test_job");

    let audit_id = derived_run_id("test_job_audit", finished.event_id);
    let audit: Vec<&Envelope> = events
        .iter()
        .filter(|e| e.correlation_id == audit_id)
        .collect();
    assert!(!audit.is_empty(), "the chained run has its own id");
    assert_eq!(
        audit[0].causation_id,
        Some(finished.event_id),
        "its first event is caused by the triggering event"
    );
    let done = audit.last().unwrap();
    assert_eq!(done.event_type, "RunCompleted");
    assert_eq!(done.workflow.as_ref().unwrap().name, "test_job_audit");
    let outcome = done.outcome.as_ref().unwrap();
    assert_eq!(outcome.caused_by, Some(job));
    assert_eq!(outcome.outputs["doubled"], 80);
    assert_eq!(outcome.outputs["audited"], "nightly");
    assert_eq!(outcome.outputs["parent"], job.to_string());
}

#[test]
fn two_workflows_claiming_one_trigger_is_a_start_up_error() {
    let a = load("job.yaml");
    let mut b = load("job.yaml");
    b.id.name = "test_job_copy".into();
    let Err(err) = WorkflowSet::new(vec![a, b]) else {
        panic!("two workflows claiming JobSubmitted were accepted")
    };
    let text = format!("{err:?}");
    assert!(
        text.contains("trigger JobSubmitted is claimed by"),
        "{text}"
    );
    assert!(
        text.contains("test_job") && text.contains("test_job_copy"),
        "{text}"
    );
}
