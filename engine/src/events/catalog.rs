//! The event catalogue (generation-pipeline spec §5.3): which event types exist, their topics, the
//! stage and statuses an envelope of each type may carry, and the JSON Schema of each payload.
//!
//! The catalogue is data: `contracts/pipeline_events.yaml` (embedded, [`EventCatalog::shipped`])
//! or any edited copy ([`EventCatalog::from_yaml_str`]). Loading checks the file's shape and
//! compiles every payload schema once; validation afterwards only runs compiled validators.
//! Shared schema pieces live at `onex.catalog.defs` and are spliced into each payload schema's
//! `$defs`, so `$ref: "#/$defs/GateSummary"` resolves inside every schema.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Envelope, EventStatus};

/// The shipped catalogue, embedded at build time.
const SHIPPED_YAML: &str = include_str!("../../../contracts/pipeline_events.yaml");

/// The stage(s) an event type may be emitted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageScope {
    /// `pipeline`: run-level events (PromptSubmitted, PipelineCompleted/Failed, DeadLettered).
    Pipeline,
    /// `*`: any stage id of the loaded contract other than `pipeline` (StageStarted/Completed/
    /// Failed, used by stages that have no events of their own).
    Any,
    /// One stage id (`parsing`).
    Stage(String),
    /// Several stage ids (ValidationFailed: `pre_validation` or `post_validation`).
    OneOf(Vec<String>),
}

impl StageScope {
    /// Whether an envelope's `stage` is allowed by this scope.
    pub fn allows(&self, stage: &str) -> bool {
        match self {
            StageScope::Pipeline => stage == PIPELINE_STAGE,
            StageScope::Any => !stage.is_empty() && stage != PIPELINE_STAGE,
            StageScope::Stage(s) => s == stage,
            StageScope::OneOf(ids) => ids.iter().any(|s| s == stage),
        }
    }
}

impl fmt::Display for StageScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageScope::Pipeline => f.write_str(PIPELINE_STAGE),
            StageScope::Any => f.write_str("any stage except 'pipeline'"),
            StageScope::Stage(s) => f.write_str(s),
            StageScope::OneOf(ids) => f.write_str(&ids.join(" or ")),
        }
    }
}

/// The stage value of run-level events.
pub const PIPELINE_STAGE: &str = "pipeline";

/// One event type of the catalogue.
pub struct EventDef {
    pub event_type: String,
    /// Topic suffix: the topic is `<prefix><namespace>.<suffix>`.
    pub suffix: String,
    pub stage: StageScope,
    pub statuses: Vec<EventStatus>,
    pub description: String,
    /// The payload schema as loaded, with the catalogue's shared defs spliced into `$defs`.
    pub payload_schema: Value,
    validator: jsonschema::Validator,
}

impl fmt::Debug for EventDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDef")
            .field("event_type", &self.event_type)
            .field("suffix", &self.suffix)
            .field("stage", &self.stage)
            .field("statuses", &self.statuses)
            .finish_non_exhaustive()
    }
}

/// The loaded catalogue. Event order is the file's order.
#[derive(Debug)]
pub struct EventCatalog {
    topic_namespace: String,
    schema_version: String,
    schema_major: u64,
    events: Vec<EventDef>,
    by_type: BTreeMap<String, usize>,
}

/// The catalogue file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("event catalogue: YAML error: {0}")]
    Yaml(String),
    /// A value of the file is invalid; `at` is its path (`onex.catalog.events[3].suffix`).
    #[error("event catalogue: {at}: {message}")]
    Invalid { at: String, message: String },
    /// A payload schema does not compile.
    #[error(
        "event catalogue: payload schema of {event_type} is not a valid JSON Schema: {message}"
    )]
    Schema { event_type: String, message: String },
}

/// What kind of rule a [`Violation`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    /// The event type is not in the catalogue.
    UnknownEventType,
    /// The envelope's schema_version is unparsable or of another major version.
    SchemaVersion,
    /// The envelope's stage is not allowed for the event type.
    Stage,
    /// The envelope's status is not allowed for the event type.
    Status,
    /// The payload breaks its JSON Schema.
    Schema,
}

/// One broken rule, located by a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// JSON pointer to the offending value: relative to the payload for
    /// [`EventCatalog::validate_payload`], to the envelope for
    /// [`EventCatalog::validate_envelope`] (`/payload/prompt_length`). A missing required field
    /// is pointed at where it should be.
    pub pointer: String,
    pub message: String,
}

/// A payload or envelope that breaks the catalogue: every violation, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    pub event_type: String,
    pub violations: Vec<Violation>,
}

impl PayloadError {
    /// The DeadLettered `error_kind` for this error (§5.2): `schema_version` when the version is
    /// at fault, else `schema`.
    pub fn dead_letter_kind(&self) -> &'static str {
        if self
            .violations
            .iter()
            .any(|v| v.kind == ViolationKind::SchemaVersion)
        {
            "schema_version"
        } else {
            "schema"
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violates the event catalogue ({} problem{}): ",
            self.event_type,
            self.violations.len(),
            if self.violations.len() == 1 { "" } else { "s" }
        )?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let at = if v.pointer.is_empty() {
                "/"
            } else {
                &v.pointer
            };
            write!(f, "{at}: {}", v.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for PayloadError {}

#[derive(Deserialize)]
struct RawFile {
    onex: RawOnex,
}

#[derive(Deserialize)]
struct RawOnex {
    catalog: RawCatalog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    topic_namespace: String,
    schema_version: String,
    #[serde(default)]
    defs: Map<String, Value>,
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    event_type: String,
    suffix: String,
    /// A string or a list of strings; interpreted by [`parse_stage`].
    stage: Value,
    statuses: Vec<EventStatus>,
    #[serde(default)]
    description: String,
    payload_schema: Value,
}

impl EventCatalog {
    /// The catalogue shipped in `contracts/pipeline_events.yaml`, parsed once.
    pub fn shipped() -> &'static EventCatalog {
        static SHIPPED: OnceLock<EventCatalog> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            // The file is embedded at build time and covered by unit tests, so a failure here is
            // a build defect, not bad input.
            EventCatalog::from_yaml_str(SHIPPED_YAML).unwrap_or_else(|e| {
                panic!("shipped contracts/pipeline_events.yaml is invalid: {e}")
            })
        })
    }

    /// Loads a catalogue file (the shape of `contracts/pipeline_events.yaml`).
    pub fn from_yaml_str(src: &str) -> Result<EventCatalog, CatalogError> {
        let raw: RawFile =
            serde_saphyr::from_str(src).map_err(|e| CatalogError::Yaml(e.to_string()))?;
        let c = raw.onex.catalog;
        let base = "onex.catalog";

        if !is_topic_namespace(&c.topic_namespace) {
            return Err(invalid(
                format!("{base}.topic_namespace"),
                format!(
                    "'{}' is not dot-separated lowercase words ([a-z0-9_])",
                    c.topic_namespace
                ),
            ));
        }
        let schema_major = semver_major(&c.schema_version).ok_or_else(|| {
            invalid(
                format!("{base}.schema_version"),
                format!("'{}' is not a version X.Y.Z", c.schema_version),
            )
        })?;
        if c.events.is_empty() {
            return Err(invalid(format!("{base}.events"), "no event types".into()));
        }

        let mut events = Vec::with_capacity(c.events.len());
        let mut by_type = BTreeMap::new();
        let mut suffixes = BTreeMap::new();
        for (i, e) in c.events.into_iter().enumerate() {
            let at = format!("{base}.events[{i}]");
            if !is_event_type(&e.event_type) {
                return Err(invalid(
                    format!("{at}.event_type"),
                    format!("'{}' is not a PascalCase event type", e.event_type),
                ));
            }
            if by_type.insert(e.event_type.clone(), i).is_some() {
                return Err(invalid(
                    format!("{at}.event_type"),
                    format!("duplicate event type '{}'", e.event_type),
                ));
            }
            if !is_identifier(&e.suffix) {
                return Err(invalid(
                    format!("{at}.suffix"),
                    format!("'{}' is not a snake_case topic suffix", e.suffix),
                ));
            }
            if e.suffix == RUNS_SUFFIX {
                return Err(invalid(
                    format!("{at}.suffix"),
                    "'runs' is reserved for the run-state topic".into(),
                ));
            }
            if let Some(other) = suffixes.insert(e.suffix.clone(), e.event_type.clone()) {
                return Err(invalid(
                    format!("{at}.suffix"),
                    format!("suffix '{}' already used by {other}", e.suffix),
                ));
            }
            let stage = parse_stage(&e.stage).map_err(|m| invalid(format!("{at}.stage"), m))?;
            if e.statuses.is_empty() {
                return Err(invalid(format!("{at}.statuses"), "no status".into()));
            }
            for (j, s) in e.statuses.iter().enumerate() {
                if e.statuses[..j].contains(s) {
                    return Err(invalid(
                        format!("{at}.statuses[{j}]"),
                        format!("duplicate status {s:?}"),
                    ));
                }
            }
            let payload_schema = splice_defs(e.payload_schema, &c.defs)
                .map_err(|m| invalid(format!("{at}.payload_schema"), m))?;
            let validator =
                jsonschema::validator_for(&payload_schema).map_err(|err| CatalogError::Schema {
                    event_type: e.event_type.clone(),
                    message: err.to_string(),
                })?;
            events.push(EventDef {
                event_type: e.event_type,
                suffix: e.suffix,
                stage,
                statuses: e.statuses,
                description: e.description,
                payload_schema,
                validator,
            });
        }

        Ok(EventCatalog {
            topic_namespace: c.topic_namespace,
            schema_version: c.schema_version,
            schema_major,
            events,
            by_type,
        })
    }

    /// `generation.pipeline`
    pub fn topic_namespace(&self) -> &str {
        &self.topic_namespace
    }

    /// The schema version the catalogue describes (`1.0.0`).
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }

    pub fn get(&self, event_type: &str) -> Option<&EventDef> {
        self.by_type.get(event_type).map(|&i| &self.events[i])
    }

    /// Every event type, in the file's order.
    pub fn events(&self) -> impl Iterator<Item = &EventDef> {
        self.events.iter()
    }

    /// `<prefix>generation.pipeline.<suffix>` of an event type (`bus.topic_prefix` is prepended as
    /// given, separator included).
    pub fn topic(&self, prefix: &str, event_type: &str) -> Option<String> {
        self.get(event_type)
            .map(|d| format!("{prefix}{}.{}", self.topic_namespace, d.suffix))
    }

    /// The topic of every event type, in the file's order (DeadLettered's `…dlq` included; the
    /// run-state topic is not an event topic: [`EventCatalog::runs_topic`]).
    pub fn all_topics(&self, prefix: &str) -> Vec<String> {
        self.events
            .iter()
            .map(|d| format!("{prefix}{}.{}", self.topic_namespace, d.suffix))
            .collect()
    }

    /// The event type published on a topic, if any.
    pub fn event_for_topic(&self, prefix: &str, topic: &str) -> Option<&EventDef> {
        let suffix = topic
            .strip_prefix(prefix)?
            .strip_prefix(self.topic_namespace.as_str())?
            .strip_prefix('.')?;
        self.events.iter().find(|d| d.suffix == suffix)
    }

    /// The dead-letter topic, `<prefix>generation.pipeline.dlq` (§5.2).
    pub fn dlq_topic(&self, prefix: &str) -> String {
        format!("{prefix}{}.{DLQ_SUFFIX}", self.topic_namespace)
    }

    /// The run-state topic, `<prefix>generation.pipeline.runs` (§5.2: Kafka's compacted run-state
    /// record). RunState is not an event, so it has no catalogue entry.
    pub fn runs_topic(&self, prefix: &str) -> String {
        format!("{prefix}{}.{RUNS_SUFFIX}", self.topic_namespace)
    }

    /// Checks a payload against its event type's JSON Schema. Pointers are relative to the
    /// payload.
    pub fn validate_payload(&self, event_type: &str, payload: &Value) -> Result<(), PayloadError> {
        let mut violations = Vec::new();
        match self.get(event_type) {
            None => violations.push(unknown_type(event_type, "")),
            Some(def) => schema_violations(def, payload, "", &mut violations),
        }
        result(event_type, violations)
    }

    /// Checks a whole envelope: known event type, schema major version equal to the catalogue's,
    /// stage and status allowed for the type, payload valid. Pointers are relative to the
    /// envelope. Whether a stage id exists in the loaded pipeline contract is the contract's
    /// check, not the catalogue's.
    pub fn validate_envelope(&self, env: &Envelope) -> Result<(), PayloadError> {
        let mut violations = Vec::new();
        match semver_major(&env.schema_version) {
            Some(major) if major == self.schema_major => {}
            Some(major) => violations.push(Violation {
                kind: ViolationKind::SchemaVersion,
                pointer: "/schema_version".into(),
                message: format!(
                    "schema major version {major} is not supported (this catalogue: {})",
                    self.schema_version
                ),
            }),
            None => violations.push(Violation {
                kind: ViolationKind::SchemaVersion,
                pointer: "/schema_version".into(),
                message: format!("'{}' is not a version X.Y.Z", env.schema_version),
            }),
        }
        match self.get(&env.event_type) {
            None => violations.push(unknown_type(&env.event_type, "/event_type")),
            Some(def) => {
                if !def.stage.allows(&env.stage) {
                    violations.push(Violation {
                        kind: ViolationKind::Stage,
                        pointer: "/stage".into(),
                        message: format!(
                            "stage '{}' is not allowed for {} (expected {})",
                            env.stage, def.event_type, def.stage
                        ),
                    });
                }
                if !def.statuses.contains(&env.status) {
                    violations.push(Violation {
                        kind: ViolationKind::Status,
                        pointer: "/status".into(),
                        message: format!(
                            "status {} is not allowed for {} (expected {})",
                            status_name(env.status),
                            def.event_type,
                            def.statuses
                                .iter()
                                .map(|s| status_name(*s))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    });
                }
                schema_violations(def, &env.payload, "/payload", &mut violations);
            }
        }
        result(&env.event_type, violations)
    }
}

const DLQ_SUFFIX: &str = "dlq";
const RUNS_SUFFIX: &str = "runs";

fn result(event_type: &str, violations: Vec<Violation>) -> Result<(), PayloadError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(PayloadError {
            event_type: event_type.to_string(),
            violations,
        })
    }
}

fn unknown_type(event_type: &str, pointer: &str) -> Violation {
    Violation {
        kind: ViolationKind::UnknownEventType,
        pointer: pointer.into(),
        message: format!("unknown event type '{event_type}'"),
    }
}

/// Collects every schema violation of `payload`, pointers prefixed with `base`.
fn schema_violations(def: &EventDef, payload: &Value, base: &str, out: &mut Vec<Violation>) {
    for err in def.validator.iter_errors(payload) {
        let mut pointer = format!("{base}{}", err.instance_path().as_str());
        // A missing field has no instance of its own: point at where it belongs, so the message
        // and the pointer both name it.
        if let jsonschema::error::ValidationErrorKind::Required { property } = err.kind() {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            pointer.push('/');
            pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        out.push(Violation {
            kind: ViolationKind::Schema,
            pointer,
            message: err.to_string(),
        });
    }
}

fn status_name(s: EventStatus) -> &'static str {
    match s {
        EventStatus::Started => "started",
        EventStatus::InProgress => "in_progress",
        EventStatus::Completed => "completed",
        EventStatus::Warning => "warning",
        EventStatus::Failed => "failed",
    }
}

fn invalid(at: String, message: String) -> CatalogError {
    CatalogError::Invalid { at, message }
}

fn parse_stage(v: &Value) -> Result<StageScope, String> {
    match v {
        Value::String(s) if s == PIPELINE_STAGE => Ok(StageScope::Pipeline),
        Value::String(s) if s == "*" => Ok(StageScope::Any),
        Value::String(s) if is_identifier(s) => Ok(StageScope::Stage(s.clone())),
        Value::Array(items) if !items.is_empty() => {
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if is_identifier(s) && s != PIPELINE_STAGE => {
                        if ids.iter().any(|x| x == s) {
                            return Err(format!("duplicate stage id '{s}'"));
                        }
                        ids.push(s.to_string());
                    }
                    _ => {
                        return Err(format!(
                            "{item} is not a stage id (a list holds stage ids, not 'pipeline' or '*')"
                        ));
                    }
                }
            }
            Ok(StageScope::OneOf(ids))
        }
        other => Err(format!(
            "{other} is not a stage id, a list of stage ids, 'pipeline' or '*'"
        )),
    }
}

/// Adds the catalogue's shared defs to the schema's own `$defs` (a name defined in both is an
/// error: the schema would silently shadow the shared definition).
fn splice_defs(schema: Value, defs: &Map<String, Value>) -> Result<Value, String> {
    let Value::Object(mut obj) = schema else {
        return Err("a payload schema must be a mapping".into());
    };
    if defs.is_empty() {
        return Ok(Value::Object(obj));
    }
    let own = obj
        .entry("$defs")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(own) = own else {
        return Err("$defs must be a mapping".into());
    };
    for (name, def) in defs {
        if own.contains_key(name) {
            return Err(format!(
                "$defs.{name} clashes with onex.catalog.defs.{name}"
            ));
        }
        own.insert(name.clone(), def.clone());
    }
    Ok(Value::Object(obj))
}

/// Major version of `X.Y.Z` (each part digits only).
fn semver_major(v: &str) -> Option<u64> {
    let mut parts = v.split('.');
    let major = parts.next()?;
    let minor = parts.next()?;
    let patch = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(major) && digits(minor) && digits(patch)) {
        return None;
    }
    major.parse().ok()
}

/// `[a-z][a-z0-9_]*`
fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// `[A-Z][A-Za-z0-9]*`
fn is_event_type(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_uppercase()) && b.all(|c| c.is_ascii_alphanumeric())
}

fn is_topic_namespace(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Component, EventSource, TraceContext};
    use serde_json::json;
    use uuid::Uuid;

    fn gs() -> Value {
        json!({"gate_id": "G7", "gate_name": "Prompt Completeness Check", "gate_type": "WARNING",
               "status": "pass", "message": "Prompt has enough detail", "error_code": null,
               "started_at": "2025-10-21T10:00:05.234Z", "duration_ms": 0,
               "recovery_suggestions": [], "skip_reason": null, "details": {}})
    }

    fn parsed() -> Value {
        json!({"prompt": "Create EFFECT node for database writes", "node_type": "EFFECT",
               "type_confidence": 1.0, "node_name": "PostgresWriter",
               "service_name": "postgres_writer", "name_confidence": 0.5,
               "name_source": "system_role", "domain": "infrastructure", "domain_confidence": 0.7,
               "domain_source": "keyword", "description": "Create EFFECT node for database writes",
               "functional_requirements": [], "external_systems": ["PostgreSQL"],
               "confidence_score": 0.78})
    }

    /// A valid payload for every event type of §5.3 (only required fields plus a few optional
    /// ones, so both kinds are exercised).
    fn samples() -> Vec<(&'static str, Value)> {
        vec![
            (
                "PromptSubmitted",
                json!({"prompt_text": "Create EFFECT node", "output_directory": "/tmp/out",
                       "requested_by": "cli", "requested_node_type": "EFFECT", "force": false,
                       "compile": true, "request_metadata": {"user": "x"}}),
            ),
            ("ParsingStarted", json!({"prompt_length": 18})),
            (
                "ParsingCompleted",
                json!({"parsed_data": parsed(), "gates_checked": [gs(), gs()],
                       "parsing_duration_ms": 1}),
            ),
            (
                "ParsingFailed",
                json!({"error_code": "INVALID_PROMPT", "error_message": "Prompt is empty",
                       "suggestions": ["Describe the node in one sentence: type, name, purpose"]}),
            ),
            (
                "PreValidationStarted",
                json!({"gates_planned": ["G1", "G2"]}),
            ),
            (
                "PreValidationCompleted",
                json!({"validation_passed": true, "gates_checked": [gs()],
                       "node_directory": "/tmp/out/node_x_y_effect",
                       "validation_duration_ms": 3, "attempts": 1}),
            ),
            (
                "ValidationFailed",
                json!({"error_code": "OUTPUT_EXISTS", "error_message": "exists",
                       "failed_gate": "G6", "gates_checked": [gs()]}),
            ),
            (
                "GenerationStarted",
                json!({"node_type": "COMPUTE", "node_name": "A", "service_name": "a",
                       "domain": "general", "total_files": 12, "template_pack": "builtin",
                       "staging_dir": "/tmp/out/.onex-staging/x"}),
            ),
            (
                "GenerationProgress",
                json!({"current_file": "node.py", "files_completed": 1, "total_files": 12,
                       "progress_percent": 8}),
            ),
            (
                "GenerationCompleted",
                json!({"generated_files": ["node.manifest.yaml"], "total_files": 12,
                       "total_bytes": 1000, "generation_duration_ms": 2}),
            ),
            (
                "GenerationFailed",
                json!({"error_code": "TEMPLATE_RENDER_ERROR", "error_message": "undefined x",
                       "failed_file": "node.py"}),
            ),
            ("PostValidationStarted", json!({"files_to_check": 12})),
            (
                "PostValidationCompleted",
                json!({"validation_passed": true, "gates_checked": [gs()],
                       "validation_duration_ms": 4}),
            ),
            (
                "WritingStarted",
                json!({"output_directory": "/tmp/out", "node_directory": "/tmp/out/n",
                       "total_files": 12, "replace_existing": false}),
            ),
            (
                "WritingProgress",
                json!({"current_file": "node.py", "files_written": 3, "total_files": 12}),
            ),
            (
                "WritingCompleted",
                json!({"node_directory": "/tmp/out/n", "main_file": "v1_0_0/node.py",
                       "all_files": ["v1_0_0/node.py"], "total_bytes": 10,
                       "writing_duration_ms": 5}),
            ),
            (
                "WritingFailed",
                json!({"error_code": "DISK_FULL", "error_message": "no space",
                       "failed_file": null, "rollback_performed": true}),
            ),
            (
                "CompilationStarted",
                json!({"interpreter": null, "mypy_available": false, "mypy_version": null}),
            ),
            (
                "CompilationCompleted",
                json!({"gates_checked": [gs()], "mypy_status": "skipped",
                       "import_status": "skipped", "mypy_passed": false, "import_passed": false,
                       "skip_reasons": {"G13": "python3 not found"},
                       "compilation_duration_ms": 0}),
            ),
            (
                "PipelineCompleted",
                json!({"node_type": "EFFECT", "node_name": "A", "service_name": "a",
                       "domain": "general", "output_path": "/tmp/out/n",
                       "files_written": ["node.manifest.yaml"], "validation_passed": true,
                       "compilation_passed": false, "compilation_status": "skipped",
                       "warnings": [gs()], "total_duration_seconds": 0.05,
                       "stage_durations": {"parsing": 1, "writing": 7}}),
            ),
            (
                "PipelineFailed",
                json!({"failed_stage": "parsing", "error_code": "INVALID_PROMPT",
                       "error_message": "Prompt is empty", "failed_gate": null,
                       "recovery_suggestions": ["Describe the node"],
                       "rollback_performed": false, "total_duration_seconds": 0.001}),
            ),
            ("StageStarted", json!({"gates_planned": []})),
            (
                "StageCompleted",
                json!({"gates_checked": [], "duration_ms": 5, "outputs": {"k": 1}}),
            ),
            (
                "StageFailed",
                json!({"error_code": "X_FAILED", "error_message": "m", "gates_checked": [gs()]}),
            ),
            (
                "DeadLettered",
                json!({"original_topic": "generation.pipeline.prompt_submitted",
                       "original_key": null, "original_partition": 0,
                       "original_offset_or_id": "42", "error_kind": "decode",
                       "error_message": "not JSON", "attempts": 1,
                       "first_failed_at": "2025-10-21T10:00:05.234Z",
                       "last_failed_at": "2025-10-21T10:00:05.234Z",
                       "original_value": "AAEC"}),
            ),
        ]
    }

    fn envelope(event_type: &str, stage: &str, status: EventStatus, payload: Value) -> Envelope {
        Envelope {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: "1.0.0".into(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            seq: 1,
            attempt: 1,
            timestamp: "2025-10-21T10:00:05.234Z".into(),
            stage: stage.into(),
            status,
            source: EventSource {
                component: Component::Cli,
                instance_id: "test".into(),
                version: crate::ENGINE_VERSION.into(),
            },
            trace: TraceContext {
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
                tracestate: None,
            },
            payload,
        }
    }

    #[test]
    fn shipped_has_the_25_event_types_of_the_spec_in_order() {
        let c = EventCatalog::shipped();
        let types: Vec<&str> = c.events().map(|d| d.event_type.as_str()).collect();
        let want: Vec<&str> = samples().iter().map(|(t, _)| *t).collect();
        assert_eq!(types, want);
        assert_eq!(c.schema_version(), "1.0.0");
        assert_eq!(c.topic_namespace(), "generation.pipeline");
    }

    #[test]
    fn every_event_type_has_a_topic() {
        let c = EventCatalog::shipped();
        for d in c.events() {
            let t = c.topic("", &d.event_type).expect("topic");
            assert_eq!(t, format!("generation.pipeline.{}", d.suffix));
            assert_eq!(
                c.event_for_topic("", &t).map(|x| x.event_type.as_str()),
                Some(d.event_type.as_str())
            );
        }
        let all = c.all_topics("t1.");
        assert_eq!(all.len(), 25);
        assert!(all.iter().all(|t| t.starts_with("t1.generation.pipeline.")));
        assert!(all.contains(&"t1.generation.pipeline.prompt_submitted".to_string()));
        assert!(all.contains(&"t1.generation.pipeline.completed".to_string()));
        assert!(all.contains(&"t1.generation.pipeline.failed".to_string()));
        assert_eq!(c.topic("", "NoSuchEvent"), None);
    }

    #[test]
    fn dlq_and_runs_topics() {
        let c = EventCatalog::shipped();
        assert_eq!(c.dlq_topic(""), "generation.pipeline.dlq");
        assert_eq!(
            c.topic("", "DeadLettered").as_deref(),
            Some("generation.pipeline.dlq")
        );
        assert_eq!(c.dlq_topic("ci42."), "ci42.generation.pipeline.dlq");
        assert_eq!(c.runs_topic(""), "generation.pipeline.runs");
        assert_eq!(c.runs_topic("ci42."), "ci42.generation.pipeline.runs");
        assert!(!c.all_topics("").contains(&c.runs_topic("")));
    }

    #[test]
    fn a_valid_sample_of_every_type_passes() {
        let c = EventCatalog::shipped();
        for (t, p) in samples() {
            if let Err(e) = c.validate_payload(t, &p) {
                panic!("{t}: {e}");
            }
        }
    }

    #[test]
    fn missing_required_field_is_named() {
        let c = EventCatalog::shipped();
        for (t, p) in samples() {
            let def = c.get(t).unwrap();
            let required = def.payload_schema["required"].as_array().unwrap();
            assert!(!required.is_empty(), "{t} has required fields");
            for r in required {
                let r = r.as_str().unwrap();
                let mut p2 = p.clone();
                p2.as_object_mut().unwrap().remove(r);
                let err = c.validate_payload(t, &p2).unwrap_err();
                assert_eq!(err.violations.len(), 1, "{t} without {r}: {err}");
                assert_eq!(err.violations[0].pointer, format!("/{r}"));
                assert!(err.to_string().contains(r), "{err}");
            }
        }
    }

    #[test]
    fn wrong_types_are_all_listed_with_pointers() {
        let c = EventCatalog::shipped();
        let err = c
            .validate_payload(
                "GenerationProgress",
                &json!({"current_file": 3, "files_completed": "one", "total_files": 12,
                        "progress_percent": 101}),
            )
            .unwrap_err();
        let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(err.violations.len(), 3, "{err}");
        for p in ["/current_file", "/files_completed", "/progress_percent"] {
            assert!(pointers.contains(&p), "{p} in {pointers:?}");
        }
        assert_eq!(err.dead_letter_kind(), "schema");
    }

    #[test]
    fn nested_gate_summary_and_parsed_prompt_are_checked() {
        let c = EventCatalog::shipped();
        let mut p = samples()[2].1.clone();
        p["gates_checked"][1]["status"] = json!("maybe");
        p["parsed_data"]["node_type"] = json!("SERVICE");
        let err = c.validate_payload("ParsingCompleted", &p).unwrap_err();
        let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/gates_checked/1/status"), "{err}");
        assert!(pointers.contains(&"/parsed_data/node_type"), "{err}");
    }

    #[test]
    fn enumerations_and_bounds() {
        let c = EventCatalog::shipped();
        let bad = [
            (
                "ParsingFailed",
                json!({"error_code": "OOPS", "error_message": "m"}),
            ),
            (
                "DeadLettered",
                json!({"original_topic": "t", "original_offset_or_id": "1", "error_kind": "other",
                       "error_message": "m", "attempts": 1, "first_failed_at": "x",
                       "last_failed_at": "x", "original_value": ""}),
            ),
            (
                "PipelineFailed",
                json!({"failed_stage": "parsing", "error_code": "E", "error_message": "m",
                       "recovery_suggestions": [], "rollback_performed": false,
                       "total_duration_seconds": 1}),
            ),
            (
                "PromptSubmitted",
                json!({"prompt_text": "p", "output_directory": "relative/dir",
                       "requested_by": "cli"}),
            ),
            (
                "PipelineCompleted",
                json!({"node_type": "EFFECT", "node_name": "A", "service_name": "a",
                       "domain": "d", "output_path": "/o", "files_written": [],
                       "validation_passed": true, "compilation_passed": true,
                       "compilation_status": "passed", "total_duration_seconds": 1,
                       "stage_durations": {"parsing": "fast"}}),
            ),
        ];
        for (t, p) in bad {
            assert!(c.validate_payload(t, &p).is_err(), "{t} must fail: {p}");
        }
    }

    #[test]
    fn real_parsed_prompts_fit_the_parsed_prompt_schema() {
        let c = EventCatalog::shipped();
        for prompt in [
            "Create EFFECT node for database writes",
            "Create an EFFECT node called DatabaseWriter in the data_services domain.\n- Insert rows\n- Retry",
            "node for data",
            "Create a node",
        ] {
            let parsed = crate::prompt::parse(prompt, None).unwrap();
            let payload = json!({"parsed_data": parsed, "gates_checked": [gs()],
                                 "parsing_duration_ms": 0});
            c.validate_payload("ParsingCompleted", &payload)
                .unwrap_or_else(|e| panic!("{prompt}: {e}"));
        }
    }

    #[test]
    fn added_unknown_fields_pass() {
        let c = EventCatalog::shipped();
        for (t, mut p) in samples() {
            p["x_added_in_1_1"] = json!({"anything": [1, 2, 3]});
            c.validate_payload(t, &p)
                .unwrap_or_else(|e| panic!("{t}: {e}"));
        }
        let mut p = samples()[2].1.clone();
        p["gates_checked"][0]["new_field"] = json!(true);
        p["parsed_data"]["new_field"] = json!(1);
        c.validate_payload("ParsingCompleted", &p).unwrap();
    }

    #[test]
    fn unknown_event_type_is_rejected() {
        let err = EventCatalog::shipped()
            .validate_payload("ParseBegun", &json!({}))
            .unwrap_err();
        assert_eq!(err.violations[0].kind, ViolationKind::UnknownEventType);
    }

    #[test]
    fn envelopes_check_version_stage_status_and_payload() {
        let c = EventCatalog::shipped();
        let ok = envelope(
            "ParsingStarted",
            "parsing",
            EventStatus::Started,
            json!({"prompt_length": 3}),
        );
        c.validate_envelope(&ok).unwrap();

        let mut v2 = ok.clone();
        v2.schema_version = "2.0.0".into();
        let err = c.validate_envelope(&v2).unwrap_err();
        assert_eq!(err.dead_letter_kind(), "schema_version");
        let mut minor = ok.clone();
        minor.schema_version = "1.7.0".into();
        c.validate_envelope(&minor).unwrap();

        let mut bad = ok.clone();
        bad.stage = "writing".into();
        bad.status = EventStatus::Completed;
        bad.payload = json!({});
        let err = c.validate_envelope(&bad).unwrap_err();
        let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/stage", "/status", "/payload/prompt_length"],
            "{err}"
        );

        // ValidationFailed: either validation stage; the generic rows: any stage but pipeline.
        let vf = samples()[6].1.clone();
        for stage in ["pre_validation", "post_validation"] {
            c.validate_envelope(&envelope(
                "ValidationFailed",
                stage,
                EventStatus::Failed,
                vf.clone(),
            ))
            .unwrap();
        }
        assert!(
            c.validate_envelope(&envelope(
                "ValidationFailed",
                "generation",
                EventStatus::Failed,
                vf
            ))
            .is_err()
        );
        let ss = json!({"gates_planned": []});
        c.validate_envelope(&envelope(
            "StageStarted",
            "lint",
            EventStatus::Started,
            ss.clone(),
        ))
        .unwrap();
        assert!(
            c.validate_envelope(&envelope(
                "StageStarted",
                "pipeline",
                EventStatus::Started,
                ss
            ))
            .is_err()
        );
        let pc = samples()[19].1.clone();
        c.validate_envelope(&envelope(
            "PipelineCompleted",
            "pipeline",
            EventStatus::Completed,
            pc,
        ))
        .unwrap();
    }

    #[test]
    fn edited_catalogues_load_and_bad_ones_are_located() {
        let minimal = r##"
contract_version: {major: 1, minor: 0, patch: 0}
name: x
description: y
onex:
  catalog:
    topic_namespace: my.ns
    schema_version: "1.2.0"
    defs:
      Thing: {type: string}
    events:
      - event_type: LintDone
        suffix: lint_done
        stage: lint
        statuses: [completed]
        payload_schema:
          type: object
          additionalProperties: true
          required: [what]
          properties: {what: {$ref: "#/$defs/Thing"}}
"##;
        let c = EventCatalog::from_yaml_str(minimal).unwrap();
        assert_eq!(
            c.topic("p.", "LintDone").as_deref(),
            Some("p.my.ns.lint_done")
        );
        assert!(
            c.validate_payload("LintDone", &json!({"what": "x"}))
                .is_ok()
        );
        assert!(c.validate_payload("LintDone", &json!({"what": 1})).is_err());

        let cases = [
            (
                minimal.replace("lint_done", "Lint-Done"),
                "events[0].suffix",
            ),
            (
                minimal.replace("suffix: lint_done", "suffix: runs"),
                "events[0].suffix",
            ),
            (
                minimal.replace("stage: lint", "stage: 5"),
                "events[0].stage",
            ),
            (
                minimal.replace("stage: lint", "stage: [pipeline]"),
                "events[0].stage",
            ),
            (minimal.replace("[completed]", "[]"), "events[0].statuses"),
            (minimal.replace("\"1.2.0\"", "\"one\""), "schema_version"),
            (minimal.replace("my.ns", "My.NS"), "topic_namespace"),
            (
                minimal.replace("LintDone", "lint_done_event"),
                "events[0].event_type",
            ),
            (minimal.replace("type: object", "type: objekt"), "LintDone"),
            (minimal.replace("[completed]", "[done]"), "done"),
            (minimal.replace("events:", "evnts:"), "evnts"),
            ("onex: [".to_string(), "YAML"),
        ];
        for (src, needle) in cases {
            let err = EventCatalog::from_yaml_str(&src).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle} not in: {err}");
        }
        let dup = minimal.replace(
            "    events:\n",
            "    events:\n      - {event_type: LintDone, suffix: other, stage: lint, statuses: [failed], payload_schema: {type: object}}\n",
        );
        let err = EventCatalog::from_yaml_str(&dup).unwrap_err().to_string();
        assert!(err.contains("duplicate event type"), "{err}");
    }
}
