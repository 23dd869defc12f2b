//! The orchestrator's run-state rules (docs/bus.md "Run state") with node generation on the
//! embedded bus: a
//! duplicate trigger of a finished run re-publishes the recorded terminal event unchanged; a run
//! another live orchestrator owns is left alone; a run whose owner stopped heartbeating is
//! taken over as a new attempt that continues the run's seq.

mod common;

use common::*;
use onex_engine::bus::{self, BusConfig, EventBus, ObserveFrom, Role, RunState, RunStatus};
use onex_engine::events::{Component, Envelope};
use onex_engine::pipeline::Executor;
use onex_engine::pipeline::run::event_source;
use onex_engine::service::{Orchestrator, OrchestratorOptions, Outcome};
use onex_engine::workflow::WorkflowSet;
use std::sync::Arc;
use std::time::Duration;

async fn setup(dir: &std::path::Path) -> (Arc<dyn EventBus>, Arc<Orchestrator>) {
    let cfg = BusConfig::with_url(format!("embedded:{}", dir.join("bus").display()));
    let set = Arc::new(WorkflowSet::new(vec![shipped().clone()]).unwrap());
    let bus = bus::connect(&cfg, Role::Service, set.events().clone())
        .await
        .unwrap();
    let exec = Executor::new(
        Arc::new(handlers()),
        Arc::new(services()),
        set.events().clone(),
        event_source(Component::Orchestrator),
    );
    let orch = Orchestrator::new(
        bus.clone(),
        Arc::new(exec),
        set,
        OrchestratorOptions::default(),
    );
    (bus, orch)
}

async fn events_of(bus: &dyn EventBus, t: &Envelope) -> Vec<Envelope> {
    let topics: Vec<String> = bus.all_topics();
    let mut obs = bus.observe(&topics, ObserveFrom::Beginning).await.unwrap();
    let mut out = Vec::new();
    while let Some(o) = obs.next(Duration::from_millis(300)).await.unwrap() {
        if o.envelope.correlation_id == t.correlation_id {
            out.push(o.envelope);
        }
    }
    out
}

#[tokio::test]
async fn a_duplicate_trigger_never_runs_the_pipeline_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, orch) = setup(dir.path()).await;
    let out = dir.path().join("out");
    let t = options("EFFECT node called OrderWriter writes orders", &out)
        .trigger(event_source(Component::Cli));
    bus.publish(&t).await.unwrap();
    assert_eq!(orch.handle(t.clone()).await, Outcome::Ran { success: true });
    assert_eq!(orch.handle(t.clone()).await, Outcome::Republished);
    let events = events_of(bus.as_ref(), &t).await;
    let terminals: Vec<&Envelope> = events
        .iter()
        .filter(|e| e.event_type == "PipelineCompleted")
        .collect();
    assert_eq!(terminals.len(), 2, "re-published");
    assert_eq!(
        terminals[0].event_id, terminals[1].event_id,
        "unchanged: observers count it once"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "WritingCompleted")
            .count(),
        1
    );
    let state = bus.get_run_state(t.correlation_id).await.unwrap().unwrap();
    assert_eq!(state.status, RunStatus::Completed);
}

#[tokio::test]
async fn a_live_owner_keeps_its_run_and_a_dead_one_loses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, orch) = setup(dir.path()).await;
    let out = dir.path().join("out");
    let t = options("EFFECT node called CacheWriter writes to Redis", &out)
        .trigger(event_source(Component::Cli));
    bus.publish(&t).await.unwrap();
    let mut state = RunState {
        correlation_id: t.correlation_id,
        status: RunStatus::InProgress,
        terminal: None,
        attempt: 1,
        owner: Some("another-orchestrator".into()),
        updated_at: Envelope::now_timestamp(),
        workflow: None,
    };
    bus.put_run_state(&state).await.unwrap();
    assert_eq!(orch.handle(t.clone()).await, Outcome::InProgressElsewhere);

    // The owner's last heartbeat is a minute old: it died; the run is taken over.
    state.updated_at = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60))
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    bus.put_run_state(&state).await.unwrap();
    assert_eq!(orch.handle(t.clone()).await, Outcome::Ran { success: true });
    let events = events_of(bus.as_ref(), &t).await;
    let second: Vec<&Envelope> = events.iter().filter(|e| e.attempt == 2).collect();
    assert_eq!(
        second.first().unwrap().seq,
        2,
        "attempt 2 continues after PromptSubmitted"
    );
    assert_eq!(second.last().unwrap().event_type, "PipelineCompleted");
    assert!(out.join("node_infrastructure_cache_writer_effect").is_dir());
}
