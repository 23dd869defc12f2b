//! The event envelope (§5.1). The message value on every bus back end is this struct as JSON;
//! the message key is `correlation_id`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who published an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Cli,
    Orchestrator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    pub component: Component,
    pub instance_id: String,
    pub version: String,
}

/// W3C trace context, created by the CLI and carried through every event of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    pub traceparent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Started,
    InProgress,
    Completed,
    /// Completed, with warning gates.
    Warning,
    Failed,
}

/// One event. All fields are required on the wire (`tracestate` aside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// UUID v7; consumers de-duplicate on it.
    pub event_id: Uuid,
    pub event_type: String,
    /// `"1.0.0"`; an unknown major version is dead-lettered.
    pub schema_version: String,
    /// The run id.
    pub correlation_id: Uuid,
    /// event_id of the run's event with seq − 1; `None` only on PromptSubmitted (and DeadLettered).
    pub causation_id: Option<Uuid>,
    /// 1-based, strictly increasing per run across all topics; 0 for DeadLettered.
    pub seq: u64,
    /// Delivery attempt of the run (1 unless redelivered after a crash).
    #[serde(default = "one")]
    pub attempt: u32,
    /// RFC 3339 UTC with milliseconds: `2025-10-21T10:00:05.234Z`.
    pub timestamp: String,
    /// A stage id of the loaded contract, or `pipeline`.
    pub stage: String,
    pub status: EventStatus,
    pub source: EventSource,
    pub trace: TraceContext,
    /// `{}` when the event has none.
    pub payload: serde_json::Value,
}

fn one() -> u32 {
    1
}

/// The schema version this engine writes.
pub const SCHEMA_VERSION: &str = "1.0.0";

impl Envelope {
    /// RFC 3339 UTC timestamp with millisecond precision, as every envelope carries.
    pub fn now_timestamp() -> String {
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }
}
