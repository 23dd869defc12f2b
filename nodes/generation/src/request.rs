//! Node generation's request: the `PromptSubmitted` payload as handlers read it
//! ([`PromptRequest::of`]), the options a client builds it from ([`PromptOptions`]), and the
//! settings of this package that the engine passes through untouched ([`GenerationSettings`]).

use std::path::PathBuf;

use onex_engine::events::{Envelope, EventSource};
use onex_engine::pipeline::run::trigger_envelope;
use onex_engine::pipeline::{RunShared, StageError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::prompt::NodeType;

/// The trigger event type of node generation.
pub const TRIGGER: &str = "PromptSubmitted";

/// What a generation run was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRequest {
    pub prompt_text: String,
    /// Absolute and normalised by the client.
    pub output_directory: PathBuf,
    pub requested_by: String,
    pub requested_node_type: Option<NodeType>,
    pub force: bool,
    pub compile: bool,
}

impl PromptRequest {
    /// Reads a PromptSubmitted payload. Errors name the offending field.
    pub fn from_payload(p: &Value) -> Result<PromptRequest, String> {
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
        Ok(PromptRequest {
            prompt_text: text("prompt_text")?,
            output_directory: PathBuf::from(text("output_directory")?),
            requested_by: text("requested_by")?,
            requested_node_type,
            force: p.get("force").and_then(Value::as_bool).unwrap_or(false),
            compile: p.get("compile").and_then(Value::as_bool).unwrap_or(true),
        })
    }

    /// The request of the run a handler serves. The catalogue's schema has checked the
    /// payload's shape on the bus; what it cannot check is a failure of the run, not a panic.
    pub fn of(run: &RunShared) -> Result<PromptRequest, StageError> {
        PromptRequest::from_payload(run.trigger()).map_err(|m| {
            StageError::failed(
                "INTERNAL_ERROR",
                format!("the PromptSubmitted payload: {m}"),
            )
        })
    }
}

/// Options of a new generation request, as a client takes them.
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

impl PromptOptions {
    /// The PromptSubmitted payload.
    pub fn payload(&self) -> Value {
        let mut payload = json!({
            "prompt_text": self.prompt_text,
            "output_directory": self.output_directory.to_string_lossy(),
            "requested_by": self.requested_by,
            "force": self.force,
            "compile": self.compile,
            "request_metadata": self.request_metadata,
        });
        if let Some(t) = self.requested_node_type {
            payload["requested_node_type"] = json!(t.as_upper());
        }
        payload
    }

    /// The PromptSubmitted envelope for a new run (seq 1, no causation), as a client publishes
    /// it.
    pub fn trigger(&self, source: EventSource) -> Envelope {
        trigger_envelope(TRIGGER, self.payload(), self.correlation_id, source)
    }
}

/// Settings of node generation's handlers (`onex.toml` sections `[python]` and `[gates]`,
/// `ONEX_PYTHON`, `--templates`), carried in the engine's `Services`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationSettings {
    /// `--templates DIR`; `None` = the built-in pack.
    pub templates_dir: Option<PathBuf>,
    /// Interpreter for G4's probe, G13 and G14 (`$ONEX_PYTHON`, default `python3`).
    pub python: Option<PathBuf>,
    /// Whether G4 also runs a live import probe (`gates.G4 = "probe"` or a Python configured).
    pub probe_imports: bool,
}

impl GenerationSettings {
    /// The settings of `run` (defaults when the binary gave none).
    pub fn of(run: &RunShared) -> GenerationSettings {
        run.services
            .get::<GenerationSettings>()
            .cloned()
            .unwrap_or_default()
    }
}

/// `[python]` of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PythonSection {
    /// Interpreter for G4's probe, G13 and G14 (`ONEX_PYTHON` overrides it).
    pub interpreter: Option<PathBuf>,
}

/// The configuration sections node generation reads (beside the engine's).
pub const CONFIG_SECTIONS: &[&str] = &["python", "gates"];

/// The keys of those sections (`gates.<gate id>` = "probe" …), for the binary's key check.
pub const CONFIG_KEYS: &[&str] = &["python.interpreter", "gates.*"];

/// Environment variables that override a key of those sections.
pub const CONFIG_ENV: &[(&str, &str)] = &[("ONEX_PYTHON", "python.interpreter")];

impl GenerationSettings {
    /// From the configuration (`[python]`, `[gates]`) and the environment (`ONEX_PYTHON`).
    pub fn from_config(
        config: &onex_engine::config::Config,
        templates_dir: Option<PathBuf>,
    ) -> Result<GenerationSettings, onex_engine::config::ConfigError> {
        let python: PythonSection = config.package("python")?;
        let gates: std::collections::BTreeMap<String, String> = config.package("gates")?;
        let python = std::env::var_os("ONEX_PYTHON")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or(python.interpreter);
        Ok(GenerationSettings {
            templates_dir,
            probe_imports: gates.get("G4").is_some_and(|m| m == "probe") || python.is_some(),
            python,
        })
    }
}
