//! The event envelope (docs/bus.md "The envelope"). The message value on every bus back end is
//! this struct as JSON; the message key is `correlation_id`.

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
    /// A stage id of the loaded contract, or `pipeline` for run-level events (triggers, terminal
    /// events, dead letters).
    pub stage: String,
    pub status: EventStatus,
    pub source: EventSource,
    pub trace: TraceContext,
    /// `{}` when the event has none.
    pub payload: serde_json::Value,
    /// The workflow version that emitted the event (absent on events a client publishes, such
    /// as a trigger, and on dead letters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRef>,
    /// On a run's terminal event only: the run's outcome, so its result can be rebuilt from
    /// its events alone whatever the contract's payload mapping says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
}

/// Which workflow version a run runs: the contract's workflow name and version and the hash of
/// its sources (contract, includes, catalogue), so two edits of one version differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkflowRef {
    pub name: String,
    pub version: String,
    /// First 16 hex digits of the sha256 of the workflow's sources.
    pub hash: String,
}

impl std::fmt::Display for WorkflowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.name, self.version, self.hash)
    }
}

/// Success or failure of a finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    Success,
    Failed,
}

/// Why a run failed: the stage that ended it and what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    pub stage: String,
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub failed_gate: Option<String>,
    /// At least one: what to do about it.
    #[serde(default)]
    pub recovery_suggestions: Vec<String>,
    #[serde(default)]
    pub context: serde_json::Value,
    /// Whether run resources (a staging directory …) were rolled back.
    #[serde(default)]
    pub rollback_performed: bool,
}

/// What a terminal event carries besides its declared payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub status: OutcomeStatus,
    /// The contract's `result:` mapping evaluated over the final run context.
    #[serde(default)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RunFailure>,
    /// The run whose event triggered this one (chained workflows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<Uuid>,
}

fn one() -> u32 {
    1
}

/// The schema version this engine writes.
pub const SCHEMA_VERSION: &str = "1.0.0";

impl Envelope {
    /// Whether this is a run's terminal event (it carries the run's outcome).
    pub fn is_terminal(&self) -> bool {
        self.outcome.is_some()
    }

    /// Whether a client published this event to start a run of its own (seq 1, caused by
    /// nothing), rather than a run emitting it. A workflow triggered by a run's event starts a
    /// new run with its own correlation id ([`crate::pipeline::run::RunRequest::for_trigger`]).
    pub fn starts_own_run(&self) -> bool {
        self.seq == 1 && self.causation_id.is_none()
    }

    /// RFC 3339 UTC timestamp with millisecond precision, as every envelope carries.
    pub fn now_timestamp() -> String {
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }
}
