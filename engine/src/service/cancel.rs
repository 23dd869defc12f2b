//! Cancelling a run (docs/bus.md "Cancellation"), for any workflow.
//!
//! A client publishes a `RunCancelRequested` event (system catalogue, its own topic, not part of
//! the run's sequence). Every orchestrator watches that topic; the one running the run cancels
//! its token, and the executor stops the run at its next stage boundary through the workflow's
//! failure path (run resources rolled back, the declared failure event with error code
//! [`CANCELLED`], or the engine's RunFailed when the declaration cannot carry that code).
//!
//! A run that has not started yet has no owner to tell: the client records it as finished
//! instead — a run-state record holding [`terminal_before_start`] — so the orchestrator that
//! later receives the trigger re-publishes that terminal event and never starts the run.

use crate::bus::{BusError, EventBus, ObserveFrom, RunState, RunStatus};
use crate::events::{
    Envelope, EventSource, EventStatus, OutcomeStatus, RunFailure, RunOutcome, SCHEMA_VERSION,
    WorkflowRef,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The system event type of a cancel request.
pub const CANCEL_REQUESTED: &str = "RunCancelRequested";
/// The error code a cancelled run ends with.
pub const CANCELLED: &str = "CANCELLED";
/// How long a request is remembered for a run not (yet) running here: a trigger claimed just
/// after the request was published still finds it.
const REMEMBER: Duration = Duration::from_secs(600);

fn base(event_type: &str, run: Uuid, status: EventStatus, source: EventSource) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: event_type.to_owned(),
        schema_version: SCHEMA_VERSION.into(),
        correlation_id: run,
        causation_id: None,
        seq: 0,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage: crate::events::catalog::PIPELINE_STAGE.into(),
        status,
        source,
        trace: crate::pipeline::run::new_trace_context(),
        payload: json!({}),
        workflow: None,
        outcome: None,
    }
}

/// The request to cancel `run` (seq 0: like a dead letter, it is about a run, not in it).
pub fn request(
    run: Uuid,
    requested_by: &str,
    reason: Option<&str>,
    source: EventSource,
) -> Envelope {
    let mut e = base(CANCEL_REQUESTED, run, EventStatus::InProgress, source);
    e.payload = json!({"requested_by": requested_by, "reason": reason});
    e
}

/// The terminal event of a run cancelled before any orchestrator started it: the engine's
/// RunFailed with [`CANCELLED`], seq 2 (after the client's trigger, seq 1).
pub fn terminal_before_start(
    run: Uuid,
    workflow: Option<WorkflowRef>,
    requested_by: &str,
    source: EventSource,
) -> Envelope {
    let message = format!("cancelled by {requested_by} before it started");
    let suggestion = "Submit the run again if it is still wanted".to_owned();
    let mut e = base("RunFailed", run, EventStatus::Failed, source);
    e.seq = 2;
    e.payload = json!({
        "failed_stage": crate::events::catalog::PIPELINE_STAGE,
        "error_code": CANCELLED,
        "error_message": message,
        "recovery_suggestions": [suggestion],
        "rollback_performed": false,
        "total_duration_seconds": 0.0,
    });
    e.workflow = workflow;
    e.outcome = Some(RunOutcome {
        status: OutcomeStatus::Failed,
        outputs: Default::default(),
        failure: Some(RunFailure {
            stage: crate::events::catalog::PIPELINE_STAGE.into(),
            code: CANCELLED.into(),
            message,
            failed_gate: None,
            recovery_suggestions: vec![suggestion],
            context: json!({"requested_by": requested_by}),
            rollback_performed: false,
        }),
        caused_by: None,
    });
    e
}

/// The run-state record of a run cancelled before it started (see [`terminal_before_start`]).
pub fn record_before_start(terminal: &Envelope, attempt: u32, owner: &str) -> RunState {
    RunState {
        correlation_id: terminal.correlation_id,
        status: RunStatus::Failed,
        terminal: Some(terminal.clone()),
        attempt,
        owner: Some(owner.to_owned()),
        updated_at: Envelope::now_timestamp(),
        workflow: terminal.workflow.clone(),
    }
}

/// The runs of one orchestrator that can be cancelled, and the requests it has seen.
#[derive(Default)]
pub struct Cancels {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    running: HashMap<Uuid, CancellationToken>,
    requested: HashMap<Uuid, Instant>,
}

impl Cancels {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token of a run starting here; already cancelled when a request for it came first.
    pub fn register(&self, run: Uuid) -> CancellationToken {
        let mut g = self.lock();
        let token = CancellationToken::new();
        if g.requested
            .get(&run)
            .is_some_and(|t| t.elapsed() < REMEMBER)
        {
            token.cancel();
        }
        g.running.insert(run, token.clone());
        token
    }

    /// The run ended here.
    pub fn unregister(&self, run: Uuid) {
        self.lock().running.remove(&run);
    }

    /// Cancels `run` if it runs here and remembers the request; true when it ran here.
    pub fn request(&self, run: Uuid) -> bool {
        let mut g = self.lock();
        g.requested.retain(|_, t| t.elapsed() < REMEMBER);
        g.requested.insert(run, Instant::now());
        match g.running.get(&run) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
}

/// Watches the cancel requests on `bus` (from now on) and passes them to `cancels`, until the
/// observer fails (then it is opened again after a pause: a broker outage must not end it).
pub async fn watch(bus: Arc<dyn EventBus>, cancels: Arc<Cancels>) {
    let topic = match bus.topic(CANCEL_REQUESTED) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("cancel requests cannot be watched: {e}");
            return;
        }
    };
    loop {
        if let Err(e) = watch_once(bus.as_ref(), &topic, &cancels).await {
            tracing::warn!("watching cancel requests: {e}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn watch_once(bus: &dyn EventBus, topic: &str, cancels: &Cancels) -> Result<(), BusError> {
    let mut obs = bus.observe(&[topic.to_owned()], ObserveFrom::End).await?;
    loop {
        if let Some(o) = obs.next(Duration::from_secs(1)).await?
            && o.envelope.event_type == CANCEL_REQUESTED
        {
            let run = o.envelope.correlation_id;
            let here = cancels.request(run);
            tracing::info!(correlation_id = %run, running_here = here, "cancel requested");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_before_the_run_starts_cancels_it_at_once() {
        let c = Cancels::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(!c.request(a), "not running here yet");
        assert!(c.register(a).is_cancelled());
        let tb = c.register(b);
        assert!(!tb.is_cancelled());
        assert!(c.request(b));
        assert!(tb.is_cancelled());
        c.unregister(b);
        assert!(!c.request(b));
    }

    #[test]
    fn the_before_start_terminal_fits_the_system_catalogue() {
        let src = crate::pipeline::run::event_source(crate::events::Component::Cli);
        let reg = crate::events::EventRegistry::new();
        let run = Uuid::now_v7();
        let t = terminal_before_start(run, None, "me", src.clone());
        reg.validate_envelope(&t).unwrap();
        assert!(t.is_terminal());
        let r = request(run, "me", Some("no longer needed"), src);
        reg.validate_envelope(&r).unwrap();
        assert!(!r.is_terminal());
        assert!(!r.starts_own_run());
    }
}
