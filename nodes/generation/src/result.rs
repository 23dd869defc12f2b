//! [`PipelineResult`]: the result of a generation run as node generation reports it — the
//! engine's generic [`RunResult`] read through the contract's `result:` outputs (parsed prompt,
//! names, where the node went, the compilation verdict). Built from a live run or from the
//! run's events alone: both give the same [`RunResult`].

use onex_engine::pipeline::{GateRecord, RunResult, RunStatus, StageRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::prompt::ParsedPrompt;

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

impl From<&RunResult> for PipelineResult {
    fn from(r: &RunResult) -> Self {
        let text = |k: &str| r.output(k).and_then(Value::as_str).map(str::to_owned);
        let success = r.success();
        // A failed run has no node directory and no compilation verdict (null, docs/generation.md).
        let compilation_status = success.then(|| text("compilation_status")).flatten();
        let failure = r.failure.as_ref();
        PipelineResult {
            correlation_id: r.correlation_id,
            status: r.status,
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            total_duration_ms: r.total_duration_ms,
            stages: r.stages.clone(),
            parsed: r
                .output("parsed")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            node_type: text("node_type"),
            node_name: text("node_name"),
            service_name: text("service_name"),
            domain: text("domain"),
            output_path: success.then(|| text("output_path")).flatten(),
            generated_files: r
                .output("generated_files")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            validation_passed: r
                .output("validation_passed")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            compilation_passed: compilation_status.as_deref() == Some("passed"),
            compilation_status,
            error_code: failure.map(|f| f.code.clone()),
            error_summary: failure.map(|f| f.message.clone()),
            failed_stage: failure.map(|f| f.stage.clone()),
            failed_gate: failure.and_then(|f| f.failed_gate.clone()),
            recovery_suggestions: failure
                .map(|f| f.recovery_suggestions.clone())
                .unwrap_or_default(),
            warnings: r.warnings.clone(),
            metadata: ResultMetadata {
                prompt: text("prompt").unwrap_or_default(),
                output_directory: text("output_directory").unwrap_or_default(),
                engine_version: r.engine_version.clone(),
                template_pack: text("template_pack"),
            },
        }
    }
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
            .filter(|g| g.status == onex_engine::pipeline::GateStatus::Fail)
            .collect()
    }

    pub fn warning_gates(&self) -> Vec<&GateRecord> {
        self.all_gates()
            .filter(|g| g.status == onex_engine::pipeline::GateStatus::Warning)
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
