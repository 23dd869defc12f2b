//! The run result: [`RunResult`] — status, one [`StageRecord`] per contract stage with one
//! [`GateRecord`] per gate, the contract's `result:` outputs and, on failure, why. Every field
//! comes from an envelope or a payload, so a result can be rebuilt from a run's events alone
//! ([`crate::pipeline::replay::rebuild`]). A workflow package derives its own view from it.

use crate::events::{RunFailure, WorkflowRef};
use crate::pipeline::handler::GateStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

/// Success or failure of a run.
pub type RunStatus = crate::events::OutcomeStatus;

/// A gate's outcome: the GateSummary of the events plus its stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    pub gate_id: String,
    pub gate_name: String,
    pub stage: String,
    pub gate_type: String,
    pub status: GateStatus,
    pub message: String,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub recovery_suggestions: Vec<String>,
    #[serde(default)]
    pub skip_reason: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub details: Value,
}

impl GateRecord {
    /// The GateSummary of the event payloads (the record without `stage`).
    pub fn summary(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(m) = v.as_object_mut() {
            m.remove("stage");
            m.retain(|_, v| !v.is_null());
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage_id: String,
    pub status: StageStatus,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub gates: Vec<GateRecord>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub skip_reason: Option<String>,
    /// Stage-specific: attempts, node_directory, bytes, staging_dir, interpreter …
    pub metadata: serde_json::Map<String, Value>,
}

impl StageRecord {
    pub fn pending(id: &str) -> Self {
        StageRecord {
            stage_id: id.to_owned(),
            status: StageStatus::Pending,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            gates: Vec::new(),
            error_code: None,
            error: None,
            skip_reason: None,
            metadata: Default::default(),
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub correlation_id: Uuid,
    /// The workflow version that ran.
    pub workflow: Option<WorkflowRef>,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: String,
    pub total_duration_ms: u64,
    /// One per contract stage, in execution order.
    pub stages: Vec<StageRecord>,
    /// The contract's `result:` mapping over the final run context.
    pub outputs: Map<String, Value>,
    /// Why the run failed (`None` on success).
    pub failure: Option<RunFailure>,
    /// Gates that warned.
    pub warnings: Vec<GateRecord>,
    /// The run whose event triggered this one (chained workflows).
    #[serde(default)]
    pub caused_by: Option<Uuid>,
    pub engine_version: String,
}

impl RunResult {
    pub fn success(&self) -> bool {
        self.status == RunStatus::Success
    }

    pub fn stage(&self, id: &str) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.stage_id == id)
    }

    pub fn failed_gates(&self) -> Vec<&GateRecord> {
        self.all_gates()
            .filter(|g| g.status == GateStatus::Fail)
            .collect()
    }

    pub fn warning_gates(&self) -> Vec<&GateRecord> {
        self.all_gates()
            .filter(|g| g.status == GateStatus::Warning)
            .collect()
    }

    fn all_gates(&self) -> impl Iterator<Item = &GateRecord> {
        self.stages.iter().flat_map(|s| s.gates.iter())
    }

    /// An output, if the run produced it (null counts as absent).
    pub fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name).filter(|v| !v.is_null())
    }

    /// One line for humans.
    pub fn summary(&self) -> String {
        match &self.failure {
            None => format!(
                "succeeded in {} ms ({} warning{})",
                self.total_duration_ms,
                self.warnings.len(),
                if self.warnings.len() == 1 { "" } else { "s" }
            ),
            Some(f) => format!("failed in stage {} with {}: {}", f.stage, f.code, f.message),
        }
    }
}
