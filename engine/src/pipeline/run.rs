//! A run's inputs and outputs on the event side: the [`RunRequest`] built from the trigger
//! event, the [`EventSink`] every event of a run goes through (the bus, a channel for direct
//! mode, a vector in tests), and the [`Emitter`] that numbers a run's events.

use crate::events::{
    Component, Envelope, EventCatalog, EventSource, EventStatus, SCHEMA_VERSION, TraceContext,
};
use crate::pipeline::handler::BoxFuture;
use crate::prompt::NodeType;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Mutex;
use uuid::Uuid;

/// Everything a run starts from: the trigger event and the fields read from its payload.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The trigger (PromptSubmitted, seq 1). The run's own events continue from seq 2.
    pub trigger: Envelope,
    pub prompt_text: String,
    pub output_directory: PathBuf,
    pub requested_by: String,
    pub requested_node_type: Option<NodeType>,
    pub force: bool,
    pub compile: bool,
    /// Delivery attempt (1 unless redelivered after a crash).
    pub attempt: u32,
}

/// Options of a new generation request, as the CLI takes them.
#[derive(Debug, Clone)]
pub struct PromptOptions {
    pub prompt_text: String,
    /// Absolute and normalised.
    pub output_directory: PathBuf,
    pub requested_by: String,
    pub requested_node_type: Option<NodeType>,
    pub force: bool,
    pub compile: bool,
    pub correlation_id: Uuid,
    pub request_metadata: Value,
}

impl RunRequest {
    /// Reads a PromptSubmitted envelope. Errors name the offending field.
    pub fn from_trigger(trigger: Envelope) -> Result<RunRequest, String> {
        let p = &trigger.payload;
        let text = |k: &str| -> Result<String, String> {
            p.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("payload field '{k}' is missing or not a string"))
        };
        let requested_node_type = match p.get("requested_node_type") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                NodeType::parse(s)
                    .ok_or_else(|| format!("requested_node_type '{s}' is not a node type"))?,
            ),
            Some(other) => return Err(format!("requested_node_type {other} is not a string")),
        };
        Ok(RunRequest {
            prompt_text: text("prompt_text")?,
            output_directory: PathBuf::from(text("output_directory")?),
            requested_by: text("requested_by")?,
            requested_node_type,
            force: p.get("force").and_then(Value::as_bool).unwrap_or(false),
            compile: p.get("compile").and_then(Value::as_bool).unwrap_or(true),
            attempt: trigger.attempt.max(1),
            trigger,
        })
    }

    /// The PromptSubmitted envelope for a new run (seq 1, no causation), as the CLI publishes it.
    pub fn prompt_submitted(opts: &PromptOptions, source: EventSource) -> Envelope {
        let mut payload = json!({
            "prompt_text": opts.prompt_text,
            "output_directory": opts.output_directory.to_string_lossy(),
            "requested_by": opts.requested_by,
            "force": opts.force,
            "compile": opts.compile,
            "request_metadata": opts.request_metadata,
        });
        if let Some(t) = opts.requested_node_type {
            payload["requested_node_type"] = json!(t.as_upper());
        }
        Envelope {
            event_id: Uuid::now_v7(),
            event_type: "PromptSubmitted".into(),
            schema_version: SCHEMA_VERSION.into(),
            correlation_id: opts.correlation_id,
            causation_id: None,
            seq: 1,
            attempt: 1,
            timestamp: Envelope::now_timestamp(),
            stage: "pipeline".into(),
            status: EventStatus::Started,
            source,
            trace: crate::telemetry::current_traceparent()
                .map(|traceparent| TraceContext {
                    traceparent,
                    tracestate: None,
                })
                .unwrap_or_else(new_trace_context),
            payload,
        }
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

/// Numbers a run's events (seq, causation chain) and checks them against the catalogue.
pub(crate) struct Emitter<'a> {
    sink: &'a dyn EventSink,
    catalog: &'a EventCatalog,
    validate: bool,
    correlation_id: Uuid,
    attempt: u32,
    trace: TraceContext,
    source: EventSource,
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
        catalog: &'a EventCatalog,
        validate: bool,
        request: &RunRequest,
        source: EventSource,
    ) -> Self {
        Emitter {
            sink,
            catalog,
            validate,
            correlation_id: request.trigger.correlation_id,
            attempt: request.attempt,
            trace: request.trigger.trace.clone(),
            source,
            chain: tokio::sync::Mutex::new((request.trigger.seq, request.trigger.event_id)),
        }
    }

    pub(crate) async fn emit(
        &self,
        event_type: &str,
        stage: &str,
        status: EventStatus,
        payload: Value,
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
        };
        if self.validate {
            self.catalog
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
