//! An event catalogue: which event types exist, their topics, the stage and statuses an envelope
//! of each type may carry, and the JSON Schema of each payload (docs/contracts.md "The event
//! catalogue").
//!
//! A catalogue is data: a file a workflow contract names (`onex.catalog`), loaded at run time
//! through the contract loader ([`EventCatalog::from_value`], so problems have file:line:col),
//! or the engine's own [`EventCatalog::system`] (`contracts/system_events.yaml`, embedded).
//! Loading checks the file's shape and compiles every payload schema once; validation
//! afterwards only runs compiled validators. Shared schema pieces live at `onex.catalog.defs`
//! and are spliced into each payload schema's `$defs`, so `$ref: "#/$defs/GateSummary"`
//! resolves inside every schema.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Envelope, EventStatus};

/// The system events that belong to no run and carry seq 0 (contracts/system_events.yaml).
pub const OUTSIDE_RUNS: &[&str] = &["DeadLettered", "RunCancelRequested", "WorkflowReloadFailed"];

/// The engine's own catalogue (generic stage events, default terminal events, dead letters).
const SYSTEM_YAML: &str = include_str!("../../../contracts/system_events.yaml");

/// The topic namespace of the engine's own catalogue; workflow catalogues may not use it.
pub const SYSTEM_NAMESPACE: &str = "onex";

/// The stage(s) an event type may be emitted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageScope {
    /// `pipeline`: run-level events (triggers, terminal events, dead letters).
    Pipeline,
    /// `*`: any stage id of the loaded contract other than `pipeline` (the engine's generic
    /// StageStarted/Completed/Failed, used by stages that have no events of their own).
    Any,
    /// One stage id.
    Stage(String),
    /// Several stage ids (one failure event shared by two stages).
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

/// The stage value of run-level events (triggers, terminal events, dead letters).
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
    /// Its `name:` (for messages); empty when the file has none.
    name: String,
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
    /// A value of the file is invalid; `at` is its path (`onex.catalog.events[3].suffix`,
    /// [`CatalogError::pointer`] gives it as a JSON pointer).
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
    /// The DeadLettered `error_kind` for this error: `schema_version` when the version is at
    /// fault, else `schema`.
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

impl CatalogError {
    /// Where in the document the problem is, as a JSON pointer (`/onex/catalog/events/3/suffix`);
    /// empty when the whole document is at fault.
    pub fn pointer(&self) -> String {
        match self {
            CatalogError::Yaml(_) => String::new(),
            CatalogError::Invalid { at, .. } => dotted_to_pointer(at),
            CatalogError::Schema { .. } => String::new(),
        }
    }
}

/// `onex.catalog.events[3].suffix` → `/onex/catalog/events/3/suffix`.
fn dotted_to_pointer(at: &str) -> String {
    let mut out = String::new();
    for part in at.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push('/');
            out.push_str(key);
        }
        for idx in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            out.push('/');
            out.push_str(idx);
        }
    }
    out
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    name: String,
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
    /// The engine's own catalogue (`contracts/system_events.yaml`), parsed once.
    pub fn system() -> Arc<EventCatalog> {
        static SYSTEM: OnceLock<Arc<EventCatalog>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                // Embedded at build time and covered by unit tests: a failure here is a build
                // defect, not bad input.
                Arc::new(
                    EventCatalog::from_yaml_str(SYSTEM_YAML).unwrap_or_else(|e| {
                        panic!("embedded contracts/system_events.yaml is invalid: {e}")
                    }),
                )
            })
            .clone()
    }

    /// Loads catalogue text (the shape of `contracts/pipeline_events.yaml`). Files a workflow
    /// names go through the contract loader and [`EventCatalog::from_value`] instead, so their
    /// problems are located.
    pub fn from_yaml_str(src: &str) -> Result<EventCatalog, CatalogError> {
        let value: Value =
            serde_saphyr::from_str(src).map_err(|e| CatalogError::Yaml(e.to_string()))?;
        EventCatalog::from_value(&value)
    }

    /// Builds a catalogue from a loaded document (includes already resolved).
    pub fn from_value(doc: &Value) -> Result<EventCatalog, CatalogError> {
        let raw: RawFile =
            serde_json::from_value(doc.clone()).map_err(|e| CatalogError::Invalid {
                at: "onex.catalog".into(),
                message: e.to_string(),
            })?;
        let name = raw.name;
        let c = raw.onex.catalog;
        let base = "onex.catalog";

        if c.topic_namespace == SYSTEM_NAMESPACE && name != SYSTEM_NAME {
            return Err(invalid(
                format!("{base}.topic_namespace"),
                format!("'{SYSTEM_NAMESPACE}' is the engine's own namespace; choose another"),
            ));
        }
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
            name,
            topic_namespace: c.topic_namespace,
            schema_version: c.schema_version,
            schema_major,
            events,
            by_type,
        })
    }

    /// The catalogue's `name:` (empty when it has none).
    pub fn name(&self) -> &str {
        &self.name
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

    /// The topic of every event type, in the file's order.
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
        // seq is 1-based within a run; only the system events that stand outside every run
        // (a dead letter, a cancel request, a refused reload) carry seq 0.
        if env.seq == 0 && !OUTSIDE_RUNS.contains(&env.event_type.as_str()) {
            violations.push(Violation {
                kind: ViolationKind::Schema,
                pointer: "/seq".into(),
                message: format!(
                    "seq 0 is reserved for events outside a run ({}); a run's events count from 1",
                    OUTSIDE_RUNS.join(", ")
                ),
            });
        }
        if env.timestamp.parse::<jiff::Timestamp>().is_err() {
            violations.push(Violation {
                kind: ViolationKind::Schema,
                pointer: "/timestamp".into(),
                message: format!("'{}' is not an RFC 3339 timestamp", env.timestamp),
            });
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

/// The `name:` of the engine's own catalogue.
const SYSTEM_NAME: &str = "onex_system_events";
/// Suffix of the run-state topic ([`super::EventRegistry::runs_topic`]); no event may use it.
pub(crate) const RUNS_SUFFIX: &str = "runs";

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
    use serde_json::json;

    #[test]
    fn the_system_catalogue_loads_with_its_generic_events() {
        let c = EventCatalog::system();
        assert_eq!(c.topic_namespace(), SYSTEM_NAMESPACE);
        for t in [
            "StageStarted",
            "StageCompleted",
            "StageFailed",
            "RunCompleted",
            "RunFailed",
            "DeadLettered",
            "WorkflowReloadFailed",
        ] {
            assert!(c.get(t).is_some(), "{t}");
        }
        assert_eq!(c.topic("p.", "DeadLettered").as_deref(), Some("p.onex.dlq"));
    }

    #[test]
    fn a_workflow_catalogue_may_not_take_the_system_namespace() {
        let src = "name: mine\nonex:\n  catalog:\n    topic_namespace: onex\n    schema_version: 1.0.0\n    events:\n      - {event_type: A, suffix: a, stage: pipeline, statuses: [started], payload_schema: {type: object}}\n";
        let e = EventCatalog::from_yaml_str(src).unwrap_err();
        assert_eq!(e.pointer(), "/onex/catalog/topic_namespace");
    }

    #[test]
    fn dotted_paths_become_pointers() {
        assert_eq!(
            dotted_to_pointer("onex.catalog.events[3].statuses[1]"),
            "/onex/catalog/events/3/statuses/1"
        );
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
