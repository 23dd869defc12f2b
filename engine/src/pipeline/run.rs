//! A run's inputs and outputs on the event side: the [`RunRequest`] (which workflow, which
//! trigger, which attempt), the [`EventSink`] every event of a run goes through (the bus, a
//! channel for direct mode, a vector in tests), and the [`Emitter`] that numbers a run's events.

use crate::events::{
    Component, Envelope, EventRegistry, EventSource, EventStatus, RunOutcome, SCHEMA_VERSION,
    TraceContext, WorkflowRef,
};
use crate::pipeline::handler::BoxFuture;
use serde_json::Value;
use std::sync::Mutex;
use uuid::Uuid;

/// Everything a run starts from.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The workflow version the run executes (and finishes on).
    pub workflow: WorkflowRef,
    /// The event that triggered the run: a client's trigger (seq 1, no causation; its
    /// correlation id is the run's, and the run's own events continue from seq 2) or another
    /// run's event (the run gets a correlation id of its own, [`derived_run_id`], and its events
    /// start at seq 1 with the trigger as their cause).
    pub trigger: Envelope,
    /// The run id.
    pub correlation_id: Uuid,
    /// Delivery attempt (1 unless redelivered after a crash).
    pub attempt: u32,
}

/// Namespace of run ids derived from a triggering event.
const RUN_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f6e_6578_2d72_756e_2d69_6400_0000_0001);

/// The run id of workflow `workflow` triggered by another run's event `trigger_event`: the same
/// for every delivery of that event, so a redelivered or re-published trigger finds its run.
pub fn derived_run_id(workflow: &str, trigger_event: Uuid) -> Uuid {
    Uuid::new_v5(
        &RUN_ID_NAMESPACE,
        format!("{workflow}/{trigger_event}").as_bytes(),
    )
}

impl RunRequest {
    /// The run `trigger` starts for `workflow`.
    pub fn new(workflow: WorkflowRef, trigger: Envelope, attempt: u32) -> RunRequest {
        let correlation_id = run_id_for(&workflow.name, &trigger);
        RunRequest {
            workflow,
            trigger,
            correlation_id,
            attempt: attempt.max(1),
        }
    }

    /// Whether another run's event triggered this run.
    pub fn is_chained(&self) -> bool {
        !self.trigger.starts_own_run()
    }

    /// The run whose event triggered this one.
    pub fn caused_by(&self) -> Option<Uuid> {
        self.is_chained().then_some(self.trigger.correlation_id)
    }
}

/// The run id a trigger starts for `workflow` (see [`RunRequest::trigger`]).
pub fn run_id_for(workflow: &str, trigger: &Envelope) -> Uuid {
    if trigger.starts_own_run() {
        trigger.correlation_id
    } else {
        derived_run_id(workflow, trigger.event_id)
    }
}

/// A client's trigger event: seq 1, no causation, stage `pipeline`, status `started`, with the
/// current trace context (or a fresh one).
pub fn trigger_envelope(
    event_type: &str,
    payload: Value,
    correlation_id: Uuid,
    source: EventSource,
) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: event_type.to_owned(),
        schema_version: SCHEMA_VERSION.into(),
        correlation_id,
        causation_id: None,
        seq: 1,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage: crate::events::catalog::PIPELINE_STAGE.into(),
        status: EventStatus::Started,
        source,
        trace: crate::telemetry::current_traceparent()
            .map(|traceparent| TraceContext {
                traceparent,
                tracestate: None,
            })
            .unwrap_or_else(new_trace_context),
        payload,
        workflow: None,
        outcome: None,
    }
}

/// A fresh W3C trace context (`00-<trace id>-<span id>-01`).
pub fn new_trace_context() -> TraceContext {
    let trace = Uuid::new_v4().simple().to_string();
    let span = &Uuid::new_v4().simple().to_string()[..16];
    TraceContext {
        traceparent: format!("00-{trace}-{span}-01"),
        tracestate: None,
    }
}

/// The source block of events this process publishes.
pub fn event_source(component: Component) -> EventSource {
    EventSource {
        component,
        instance_id: instance_id(),
        version: crate::ENGINE_VERSION.into(),
    }
}

fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Where a run's events go. `emit` returns once the event is durably accepted (the bus acked
/// it); an error stops the run, whose trigger is then not acknowledged and will be redelivered.
pub trait EventSink: Send + Sync {
    fn emit<'a>(&'a self, event: &'a Envelope) -> BoxFuture<'a, Result<(), SinkError>>;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("event {event_type} (seq {seq}) could not be emitted: {message}")]
pub struct SinkError {
    pub event_type: String,
    pub seq: u64,
    pub message: String,
}

/// Collects events in memory (tests, `--direct` without a bus).
#[derive(Default)]
pub struct VecSink {
    events: Mutex<Vec<Envelope>>,
}

impl VecSink {
    pub fn events(&self) -> Vec<Envelope> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl EventSink for VecSink {
    fn emit<'a>(&'a self, event: &'a Envelope) -> BoxFuture<'a, Result<(), SinkError>> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Forwards events to a channel (the CLI's live display in direct mode).
pub struct ChannelSink(pub tokio::sync::mpsc::UnboundedSender<Envelope>);

impl EventSink for ChannelSink {
    fn emit<'a>(&'a self, event: &'a Envelope) -> BoxFuture<'a, Result<(), SinkError>> {
        // A receiver that went away (the display ended) must not fail the run.
        let _ = self.0.send(event.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Numbers a run's events (seq, causation chain), stamps them with the workflow and checks
/// them against the event catalogues.
pub(crate) struct Emitter<'a> {
    sink: &'a dyn EventSink,
    events: &'a EventRegistry,
    validate: bool,
    correlation_id: Uuid,
    attempt: u32,
    trace: TraceContext,
    source: EventSource,
    workflow: WorkflowRef,
    /// (last seq, last event id); held across the sink call so seq order = emission order.
    chain: tokio::sync::Mutex<(u64, Uuid)>,
}

/// An event that could not be emitted: a payload the catalogue rejects (a contract bug) or a
/// sink failure.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum EmitError {
    #[error("event {event_type} does not match the catalogue: {message}")]
    Invalid { event_type: String, message: String },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        sink: &'a dyn EventSink,
        events: &'a EventRegistry,
        validate: bool,
        request: &RunRequest,
        source: EventSource,
    ) -> Self {
        // A client's trigger is the run's seq 1; a run triggered by another run's event starts
        // its own numbering, its first event caused by that event.
        let first = if request.is_chained() {
            (0, request.trigger.event_id)
        } else {
            (request.trigger.seq, request.trigger.event_id)
        };
        Emitter {
            sink,
            events,
            validate,
            correlation_id: request.correlation_id,
            attempt: request.attempt,
            trace: request.trigger.trace.clone(),
            source,
            workflow: request.workflow.clone(),
            chain: tokio::sync::Mutex::new(first),
        }
    }

    pub(crate) async fn emit(
        &self,
        event_type: &str,
        stage: &str,
        status: EventStatus,
        payload: Value,
        outcome: Option<RunOutcome>,
    ) -> Result<Envelope, EmitError> {
        let mut chain = self.chain.lock().await;
        let env = Envelope {
            event_id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            schema_version: SCHEMA_VERSION.into(),
            correlation_id: self.correlation_id,
            causation_id: Some(chain.1),
            seq: chain.0 + 1,
            attempt: self.attempt,
            timestamp: Envelope::now_timestamp(),
            stage: stage.to_owned(),
            status,
            source: self.source.clone(),
            trace: self.trace.clone(),
            payload,
            workflow: Some(self.workflow.clone()),
            outcome,
        };
        if self.validate {
            self.events
                .validate_envelope(&env)
                .map_err(|e| EmitError::Invalid {
                    event_type: event_type.to_owned(),
                    message: e.to_string(),
                })?;
        }
        self.sink.emit(&env).await?;
        *chain = (env.seq, env.event_id);
        Ok(env)
    }
}
