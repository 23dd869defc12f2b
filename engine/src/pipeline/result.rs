//! The run result (generation-pipeline spec §6): [`PipelineResult`], one [`StageRecord`] per
//! contract stage and one [`GateRecord`] per gate. Every field comes from an envelope or a
//! payload, so a result can be rebuilt from a run's events alone ([`PipelineResult::from_events`]).

use crate::pipeline::handler::GateStatus;
use crate::prompt::ParsedPrompt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    Failed,
}

/// A gate's outcome: the GateSummary of the events (§5.3) plus its stage.
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResultMetadata {
    pub prompt: String,
    pub output_directory: String,
    pub engine_version: String,
    pub template_pack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineResult {
    pub correlation_id: Uuid,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: String,
    pub total_duration_ms: u64,
    pub stages: Vec<StageRecord>,
    pub parsed: Option<ParsedPrompt>,
    pub node_type: Option<String>,
    pub node_name: Option<String>,
    pub service_name: Option<String>,
    pub domain: Option<String>,
    pub output_path: Option<String>,
    pub generated_files: Vec<String>,
    pub validation_passed: bool,
    pub compilation_passed: bool,
    pub compilation_status: Option<String>,
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub failed_stage: Option<String>,
    pub failed_gate: Option<String>,
    pub recovery_suggestions: Vec<String>,
    pub warnings: Vec<GateRecord>,
    pub metadata: ResultMetadata,
}

impl PipelineResult {
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

    /// One line for humans.
    pub fn summary(&self) -> String {
        match self.status {
            RunStatus::Success => format!(
                "generated {} ({} files, {} warnings) in {} ms",
                self.output_path.as_deref().unwrap_or("?"),
                self.generated_files.len(),
                self.warnings.len(),
                self.total_duration_ms
            ),
            RunStatus::Failed => format!(
                "failed in stage {} with {}: {}",
                self.failed_stage.as_deref().unwrap_or("?"),
                self.error_code.as_deref().unwrap_or("?"),
                self.error_summary.as_deref().unwrap_or("")
            ),
        }
    }
}
