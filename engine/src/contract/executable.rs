//! Dialect X: executable contracts, the workflows the engine runs (docs/contracts.md).
//!
//! A workflow contract is an ONEX ORCHESTRATOR contract whose
//! `workflow_coordination.workflow_definition.execution_graph` is the stage DAG, plus an `onex:`
//! block holding what the engine runs: the event catalogue it uses, triggers, stages (handler or
//! `outputs:`, gates, events, timeout, retries), the run timeout, the run result and the
//! terminal events. An event catalogue is a dialect X file too (`onex.catalog` holding a
//! mapping); its loader is [`crate::events::catalog`].
//!
//! This module holds the validated IR ([`ExecutableContract`]), its construction from a loaded
//! document, and the engine rules ONEX100–ONEX108, which need to know what the engine offers
//! ([`EngineKnowledge`]: the registered handlers) and the workflow's event catalogue.

use crate::contract::source::{LoadOptions, SourceDoc, load_str};
use crate::diag::{Diagnostic, Pos, Severity};
use crate::events::{EventCatalog, EventRegistry};
use crate::pipeline::{analyse, expr};
use fixedbitset::FixedBitSet;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// What a registered handler is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HandlerKind {
    /// Runs as a stage's work (or its `prepare`); its outputs join the run context.
    Stage,
    /// Decides a gate.
    Gate,
}

/// Where a stage handler's outputs go in the run context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outputs {
    /// Under these keys (the handler returns an object with exactly these).
    Fixed(&'static [&'static str]),
    /// Under the id of the stage that runs it (built-in handlers usable by many stages).
    StageId,
}

/// One parameter a handler reads from `params:`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamDoc {
    pub name: &'static str,
    pub required: bool,
    /// One line: type and meaning.
    pub doc: &'static str,
}

/// A problem a handler finds in the `params:` a contract gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamProblem {
    /// A rule code: ONEX103 (invalid parameter) or ONEX108 (a program to run is not there).
    pub code: &'static str,
    /// JSON pointer relative to `params` (`/argv/0`; empty = `params` itself).
    pub pointer: String,
    pub message: String,
}

/// A handler's own check of its `params:` (run by `onex validate` and at load time).
pub type ParamCheck = fn(&Value) -> Vec<ParamProblem>;

/// An expression or template inside a handler's `params:` (ONEX102 checks it like any other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamExpr {
    /// JSON pointer relative to `params`.
    pub pointer: String,
    pub source: String,
    pub template: bool,
}

impl ParamExpr {
    pub fn expression(pointer: String, source: &str) -> Self {
        ParamExpr {
            pointer,
            source: source.to_owned(),
            template: false,
        }
    }
    pub fn template(pointer: String, source: &str) -> Self {
        ParamExpr {
            pointer,
            source: source.to_owned(),
            template: true,
        }
    }
}

/// The event a handler's `params:` declare it emits: (type, payload field → expression).
pub type ParamEvent = fn(&Value) -> Option<(String, Vec<(String, String)>)>;

/// A registered handler as the validator (and `onex handlers`) sees it.
#[derive(Debug, Clone, Copy)]
pub struct HandlerInfo {
    /// Usable as a stage handler.
    pub stage: bool,
    /// Usable as a gate handler.
    pub gate: bool,
    pub outputs: Outputs,
    /// One line: what it does.
    pub doc: &'static str,
    pub params: &'static [ParamDoc],
    pub check_params: Option<ParamCheck>,
    /// The expressions and templates in its `params:`.
    pub param_expressions: Option<fn(&Value) -> Vec<ParamExpr>>,
    /// The event its `params:` declare it publishes (ONEX101 checks it against the catalogue).
    pub param_event: Option<ParamEvent>,
    /// Error codes its failures may carry besides the contract's own (a failure event's
    /// `error_code` list must hold them, ONEX101).
    pub failure_codes: &'static [&'static str],
}

impl HandlerInfo {
    /// The run-context keys its outputs land under when stage `stage` runs it.
    pub fn output_keys(&self, stage: &str) -> Vec<String> {
        match self.outputs {
            Outputs::Fixed(keys) => keys.iter().map(|k| k.to_string()).collect(),
            Outputs::StageId => vec![stage.to_owned()],
        }
    }

    fn usable_as(&self, kind: HandlerKind) -> bool {
        match kind {
            HandlerKind::Stage => self.stage,
            HandlerKind::Gate => self.gate,
        }
    }
}

/// What the engine offers to contracts: the registered handlers (built-in and of the workflow
/// packages linked into this binary).
pub trait EngineKnowledge: Send + Sync {
    fn handler(&self, name: &str) -> Option<HandlerInfo>;
}

/// Run-context names every expression may read, whatever stage it belongs to.
pub const BASE_CONTEXT: &[&str] = &["trigger", "correlation_id", "run", "stages"];
/// Extra names visible to a stage's own expressions (gates, events, `when`).
pub const STAGE_CONTEXT: &[&str] = &["stage"];
/// Extra name visible to gate message templates: the deciding handler's details.
pub const GATE_MESSAGE_CONTEXT: &str = "details";
/// Extra names visible to the terminal events' payloads: the run result and, on failure, why.
pub const TERMINAL_CONTEXT: &[&str] = &["result", "failure"];

/// How independent stages are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    /// One stage at a time, in topological order (declaration order breaks ties).
    Sequential,
    /// Waves by dependency depth; the stages of a wave run concurrently.
    Parallel,
    /// Runs like sequential.
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GateType {
    /// A `fail` stops the stage and fails the run.
    Blocking,
    /// Never blocks; problems are reported as warnings.
    Warning,
}

/// Stage retries: for infrastructure errors and timeouts only, never for a gate `fail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    #[serde(default = "one")]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles for each further attempt.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Random extra of up to this fraction of the wait (0–1), so retries of many runs spread.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn one() -> u32 {
    1
}
fn default_backoff_ms() -> u64 {
    200
}
fn default_max_backoff_ms() -> u64 {
    5_000
}
fn default_jitter() -> f64 {
    0.2
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            jitter: default_jitter(),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `next` (2 = the first retry), without jitter.
    pub fn base_delay(&self, next: u32) -> Duration {
        let exp = next.saturating_sub(2).min(20);
        let ms = self.backoff_ms.saturating_mul(1u64 << exp);
        Duration::from_millis(ms.min(self.max_backoff_ms))
    }
}

/// An event the workflow emits, with its payload as expressions over the run context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSpec {
    pub event_type: String,
    /// Payload field → expression.
    pub payload: IndexMap<String, String>,
    /// JSON pointer of the declaration (for diagnostics at run time).
    pub pointer: String,
}

/// The events of one stage. A stage without its own events emits the engine's generic
/// StageStarted / StageCompleted / StageFailed with engine-built payloads.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StageEvents {
    pub started: Option<EventSpec>,
    pub completed: Option<EventSpec>,
    pub failed: Option<EventSpec>,
    /// Emitted for each progress step a handler reports.
    pub progress: Option<EventSpec>,
}

/// One check of an expression gate: passes when `expression` is true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub expression: String,
    /// Template for the message when this check fails.
    pub fail_message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateCheck {
    /// A registered gate handler decides.
    Handler(String),
    /// Expressions decide; the first failing check names the problem.
    Checks(Vec<Check>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateSpec {
    pub id: String,
    pub name: String,
    pub gate_type: GateType,
    pub check: GateCheck,
    /// Free parameters handed to the gate handler.
    pub params: Value,
    pub error_code: String,
    /// Template of the pass message (expression gates; overrides a handler's own message).
    pub pass_message: Option<String>,
    /// Templates, rendered when the gate fails or warns.
    pub recovery_suggestions: Vec<String>,
    /// Gates of the same stage this one waits for (enables concurrent gates).
    pub depends_on: Vec<String>,
    /// Runs concurrently with the stage's other independent gates.
    pub parallel: bool,
    pub pointer: String,
    /// `file:line:col` of the declaration, for run-time messages.
    pub location: String,
}

/// Condition for running a stage at all; when false the stage is `skipped` with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct When {
    pub expression: String,
    pub skip_reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSpec {
    pub id: String,
    pub depends_on: Vec<String>,
    /// Runs before the started event, so that event can report what it found; its outputs
    /// join the run context.
    pub prepare: Option<String>,
    pub handler: Option<String>,
    /// Free parameters handed to the handler.
    pub params: Value,
    /// A handler-less stage's context entries: name → expression, stored under the stage id.
    pub outputs: IndexMap<String, String>,
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub when: Option<When>,
    pub events: StageEvents,
    pub gates: Vec<GateSpec>,
    /// Error code of a failure that is not a gate's (handler failure without its own code).
    pub error_code: String,
    pub pointer: String,
    /// `file:line:col` of the declaration, for run-time messages.
    pub location: String,
}

impl StageSpec {
    /// Whether the stage's gates may run concurrently (any gate declares `depends_on` or
    /// `parallel: true`).
    pub fn concurrent_gates(&self) -> bool {
        self.gates
            .iter()
            .any(|g| g.parallel || !g.depends_on.is_empty())
    }

    /// The code of a stage timeout (`GENERATION_TIMEOUT` for stage `generation`).
    pub fn timeout_code(&self) -> String {
        format!("{}_TIMEOUT", self.id.to_ascii_uppercase())
    }
}

/// The validated, executable form of a workflow contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutableContract {
    pub name: String,
    pub path: PathBuf,
    pub workflow_name: String,
    /// `workflow_metadata.workflow_version` as `X.Y.Z` (else node_version, contract_version).
    pub workflow_version: String,
    pub execution_mode: ExecutionMode,
    /// The event catalogue files the contract names (`onex.catalog`: its own, then those of
    /// the workflows whose events trigger it), resolved.
    pub catalogs: Vec<PathBuf>,
    pub triggers: Vec<String>,
    /// `file:line:col` of each trigger (start-up errors name it).
    pub trigger_locations: Vec<String>,
    pub run_timeout: Duration,
    /// In declaration order of the execution graph.
    pub stages: Vec<StageSpec>,
    /// Run result field → expression over the final run context.
    pub result: IndexMap<String, String>,
    /// Terminal events: their types and payloads.
    pub completed: EventSpec,
    pub failed: EventSpec,
}

impl ExecutableContract {
    pub fn stage(&self, id: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.id == id)
    }
}

/// The default whole-run timeout.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Terminal events of a workflow that declares none (in the engine's own catalogue).
const DEFAULT_COMPLETED: &str = "RunCompleted";
const DEFAULT_FAILED: &str = "RunFailed";

/// The payload mapping of the engine's own terminal events (a contract naming RunCompleted /
/// RunFailed without a payload, and the fallback when a declared payload breaks the catalogue).
pub fn terminal_payload(completed: bool) -> IndexMap<String, String> {
    let pairs: &[(&str, &str)] = if completed {
        &[
            ("outputs", "result"),
            ("warnings", "run.warnings"),
            ("total_duration_seconds", "run.duration_seconds"),
            ("stage_durations", "run.stage_durations"),
        ]
    } else {
        &[
            ("failed_stage", "failure.stage"),
            ("error_code", "failure.code"),
            ("error_message", "failure.message"),
            ("failed_gate", "failure.failed_gate"),
            ("recovery_suggestions", "failure.recovery_suggestions"),
            ("rollback_performed", "failure.rollback_performed"),
            ("error_context", "failure.context"),
            ("total_duration_seconds", "run.duration_seconds"),
        ]
    };
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Collects findings of the engine rules with their locations.
struct Findings<'a> {
    doc: &'a SourceDoc,
    out: &'a mut Vec<Diagnostic>,
}

impl Findings<'_> {
    fn push(&mut self, code: &str, severity: Severity, pointer: &str, message: String, help: &str) {
        let loc = self.doc.locate(pointer);
        self.out.push(Diagnostic {
            code: code.into(),
            severity,
            message,
            path: loc.path,
            pos: loc.pos,
            pointer: pointer.into(),
            help: help.into(),
        });
    }

    fn error(&mut self, code: &str, pointer: &str, message: String, help: &str) {
        self.push(code, Severity::Error, pointer, message, help);
    }

    fn warning(&mut self, code: &str, pointer: &str, message: String, help: &str) {
        self.push(code, Severity::Warning, pointer, message, help);
    }
}

fn ptr(parts: &[&str]) -> String {
    parts.iter().fold(String::new(), |mut acc, p| {
        acc.push('/');
        acc.push_str(&p.replace('~', "~0").replace('/', "~1"));
        acc
    })
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Is this document an event catalogue (rather than a workflow contract)?
pub fn is_catalog(root: &Value) -> bool {
    root.get("onex")
        .and_then(|o| o.get("catalog"))
        .is_some_and(Value::is_object)
}

/// The graph nodes of the workflow: (node_id, depends_on, index) in declaration order.
fn graph_nodes(root: &Value) -> Vec<(String, Vec<String>, usize)> {
    root.pointer("/workflow_coordination/workflow_definition/execution_graph/nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    Some((
                        str_at(n, "node_id")?.to_owned(),
                        str_list(n.get("depends_on")),
                        i,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The workflow's event catalogue
// ---------------------------------------------------------------------------------------------

/// Catalogues loaded so far, by the sha256 of their text: many contracts name one catalogue, and
/// a file edited on disk has other bytes, so the cache can never serve a stale catalogue.
static CATALOGS: LazyLock<Mutex<HashMap<[u8; 32], Arc<EventCatalog>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The catalogue files a workflow names (`onex.catalog`: one path or a list), resolved against
/// the contract's own directory, with the pointer of each.
pub fn catalog_paths(contract: &Path, root: &Value) -> Vec<(PathBuf, String)> {
    let base = contract.parent().unwrap_or_else(|| Path::new(""));
    let resolve = |rel: &str| normalize(&base.join(rel));
    match root.pointer("/onex/catalog") {
        Some(Value::String(rel)) => vec![(resolve(rel), "/onex/catalog".into())],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((resolve(v.as_str()?), format!("/onex/catalog/{i}"))))
            .collect(),
        _ => Vec::new(),
    }
}

/// `a/b/../c` → `a/c`, lexically (messages name the file as a person would).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Loads an event catalogue file through the contract loader: every problem located in it.
pub fn load_catalog(path: &Path) -> Result<Arc<EventCatalog>, Vec<Diagnostic>> {
    let located = |pointer: &str, message: String, doc: Option<&SourceDoc>| {
        let (file, pos) = match doc {
            Some(d) => {
                let l = d.locate(pointer);
                (l.path, l.pos)
            }
            None => (path.to_path_buf(), Pos { line: 1, column: 1 }),
        };
        Diagnostic {
            code: "ONEX107".into(),
            severity: Severity::Error,
            message,
            path: file,
            pos,
            pointer: pointer.into(),
            help: "fix the event catalogue (docs/contracts.md \"Event catalogues\")".into(),
        }
    };
    // A file that cannot be read has no place to point at: its one diagnostic has no
    // position, and the workflow's `onex.catalog` key says where it was named.
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut d = located(
            "",
            format!("cannot read event catalogue {}: {e}", path.display()),
            None,
        );
        d.pos = Pos { line: 0, column: 0 };
        vec![d]
    })?;
    use sha2::Digest;
    let key: [u8; 32] = sha2::Sha256::digest(text.as_bytes()).into();
    if let Some(c) = CATALOGS.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let loaded = load_str(path, &text, LoadOptions { include: true });
    let errors: Vec<Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    let Some(doc) = loaded.doc else {
        return Err(if errors.is_empty() {
            vec![located("", "the event catalogue is empty".into(), None)]
        } else {
            errors
        });
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    if !is_catalog(&doc.value) {
        return Err(vec![located(
            "",
            format!(
                "{} is not an event catalogue (no `onex.catalog` mapping)",
                path.display()
            ),
            Some(&doc),
        )]);
    }
    let catalog = EventCatalog::from_value(&doc.value)
        .map_err(|e| vec![located(&e.pointer(), e.to_string(), Some(&doc))])?;
    let catalog = Arc::new(catalog);
    CATALOGS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, catalog.clone());
    Ok(catalog)
}

/// The events a workflow may use: the engine's own and its catalogues'. `None` when a
/// catalogue could not be loaded (then `out` says why, located).
fn workflow_events(doc: &SourceDoc, out: &mut Vec<Diagnostic>) -> Option<EventRegistry> {
    let mut registry = EventRegistry::new();
    let mut ok = true;
    for (path, pointer) in catalog_paths(&doc.path, &doc.value) {
        let loc = doc.locate(&pointer);
        let at = |message: String, help: &str| Diagnostic {
            code: "ONEX107".into(),
            severity: Severity::Error,
            message,
            path: loc.path.clone(),
            pos: loc.pos,
            pointer: pointer.clone(),
            help: help.into(),
        };
        match load_catalog(&path) {
            Ok(c) => {
                if let Err(e) = registry.add(c) {
                    out.push(at(
                        e.to_string(),
                        "event types and topic namespaces are unique across catalogues",
                    ));
                    ok = false;
                }
            }
            Err(diags) => {
                match diags.as_slice() {
                    // Unreadable: one finding, at the key that names it.
                    [d] if d.pos.line == 0 => out.push(at(
                        d.message.clone(),
                        "fix the path (relative to this contract) or create the catalogue",
                    )),
                    _ => {
                        out.push(at(
                            format!(
                                "the event catalogue {} does not load ({} problem{})",
                                path.display(),
                                diags.len(),
                                if diags.len() == 1 { "" } else { "s" }
                            ),
                            "fix the catalogue file (its problems follow)",
                        ));
                        out.extend(diags);
                    }
                }
                ok = false;
            }
        }
    }
    ok.then_some(registry)
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

/// Rules ONEX100–ONEX108 for a dialect X document (includes resolved). Structural problems are
/// the JSON Schema's (`schemas/onex-executable.schema.json`); these rules assume nothing about
/// structure and skip what is malformed.
pub fn check_value(
    doc: &SourceDoc,
    engine: Option<&dyn EngineKnowledge>,
    out: &mut Vec<Diagnostic>,
) {
    let root = &doc.value;
    if is_catalog(root) {
        if let Err(e) = EventCatalog::from_value(root) {
            let mut f = Findings { doc, out };
            f.error(
                "ONEX107",
                &e.pointer(),
                e.to_string(),
                "see docs/contracts.md \"Event catalogues\"",
            );
        }
        return;
    }
    let Some(onex) = root.get("onex") else { return };
    let events = workflow_events(doc, out);
    let mut f = Findings { doc, out };
    rule_104_ids(root, onex, &mut f);
    rule_105_gate_deps(onex, &mut f);
    if let Some(events) = &events {
        rule_101_events(onex, events, engine, &mut f);
    }
    if let Some(engine) = engine {
        rule_100_handlers(onex, engine, &mut f);
        rule_102_expressions(root, onex, engine, &mut f);
        rule_103_params(onex, engine, &mut f);
    }
}

fn stages(onex: &Value) -> impl Iterator<Item = (usize, &Value)> {
    onex.get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn gates(stage: &Value) -> impl Iterator<Item = (usize, &Value)> {
    stage
        .get("gates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// Every `handler:` / `prepare:` use: (name, kind, pointer, params pointer, params).
fn handler_uses(onex: &Value) -> Vec<(&str, HandlerKind, String, String, Option<&Value>)> {
    let mut uses = Vec::new();
    for (si, stage) in stages(onex) {
        let si = si.to_string();
        for key in ["prepare", "handler"] {
            if let Some(h) = str_at(stage, key) {
                uses.push((
                    h,
                    HandlerKind::Stage,
                    ptr(&["onex", "stages", &si, key]),
                    ptr(&["onex", "stages", &si, "params"]),
                    stage.get("params"),
                ));
            }
        }
        for (gi, gate) in gates(stage) {
            if let Some(h) = str_at(gate, "handler") {
                let gi = gi.to_string();
                uses.push((
                    h,
                    HandlerKind::Gate,
                    ptr(&["onex", "stages", &si, "gates", &gi, "handler"]),
                    ptr(&["onex", "stages", &si, "gates", &gi, "params"]),
                    gate.get("params"),
                ));
            }
        }
    }
    uses
}

/// ONEX100: every stage and gate `handler` is registered in the engine, for its use.
fn rule_100_handlers(onex: &Value, engine: &dyn EngineKnowledge, f: &mut Findings<'_>) {
    for (name, kind, pointer, _, _) in handler_uses(onex) {
        match engine.handler(name) {
            None => f.error(
                "ONEX100",
                &pointer,
                format!("handler '{name}' is not registered in the engine"),
                "use a handler listed by `onex handlers`, an expression gate, or `outputs:`",
            ),
            Some(info) if !info.usable_as(kind) => f.error(
                "ONEX100",
                &pointer,
                format!(
                    "handler '{name}' is a {} handler, not a {} handler",
                    if info.stage { "stage" } else { "gate" },
                    kind_word(kind)
                ),
                "stage handlers produce outputs; gate handlers decide gates",
            ),
            Some(_) => {}
        }
    }
}

fn kind_word(k: HandlerKind) -> &'static str {
    match k {
        HandlerKind::Stage => "stage",
        HandlerKind::Gate => "gate",
    }
}

/// The expression of a payload spec, the shape check being the schema's.
fn payload_fields(spec: &Value) -> Vec<(String, &str)> {
    strings(spec.get("payload"))
}

fn event_type_of(spec: &Value) -> Option<&str> {
    spec.as_str().or_else(|| str_at(spec, "type"))
}

/// Error codes stage `stage` can end with (its own code, its timeout, its BLOCKING gates'
/// codes, its handlers' declared codes, and the run-wide PIPELINE_TIMEOUT / INTERNAL_ERROR).
fn producible_codes(stage: &Value, engine: Option<&dyn EngineKnowledge>) -> BTreeSet<String> {
    let mut codes: BTreeSet<String> = ["PIPELINE_TIMEOUT", "INTERNAL_ERROR"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let id = str_at(stage, "id").unwrap_or_default();
    if stage.get("timeout_ms").is_some() {
        codes.insert(format!("{}_TIMEOUT", id.to_ascii_uppercase()));
    }
    codes.insert(
        str_at(stage, "error_code")
            .unwrap_or("INTERNAL_ERROR")
            .to_owned(),
    );
    let handler_codes = |name: &str| -> Vec<String> {
        engine
            .and_then(|e| e.handler(name))
            .map(|i| i.failure_codes.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default()
    };
    for key in ["prepare", "handler"] {
        if let Some(h) = str_at(stage, key) {
            codes.extend(handler_codes(h));
        }
    }
    for (_, gate) in gates(stage) {
        let warning = str_at(gate, "type").is_some_and(|t| t.eq_ignore_ascii_case("warning"));
        if warning {
            continue; // a WARNING gate never fails the stage
        }
        codes.insert(
            str_at(gate, "error_code")
                .unwrap_or("GATE_FAILED")
                .to_owned(),
        );
        if let Some(h) = str_at(gate, "handler") {
            codes.extend(handler_codes(h));
        }
    }
    codes
}

/// The schema of payload field `field` of an event type, if the catalogue declares it.
fn field_schema<'a>(schema: &'a Value, field: &str) -> Option<&'a Value> {
    schema.get("properties")?.get(field)
}

/// ONEX101: every trigger and emitted event type is in the workflow's catalogue (or the
/// engine's), may be emitted where it is, and its payload fits the catalogue: every required
/// field declared, no field the schema lacks, no expression of a type the field cannot hold,
/// and a failure event's `error_code` list holds every code the stage can end with.
fn rule_101_events(
    onex: &Value,
    events: &EventRegistry,
    engine: Option<&dyn EngineKnowledge>,
    f: &mut Findings<'_>,
) {
    let help = "use an event type of the workflow's catalogue (`onex schema events`)";
    let scope = EventScope {
        events,
        triggers: onex
            .get("triggers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect(),
    };
    for (i, t) in onex
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(t) = t.as_str()
            && events.get(t).is_none()
        {
            f.error(
                "ONEX101",
                &ptr(&["onex", "triggers", &i.to_string()]),
                format!("trigger '{t}' is not in the event catalogue"),
                help,
            );
        }
    }
    // Terminal events: run-level, their payload over the whole run.
    let all_codes: BTreeSet<String> = stages(onex)
        .flat_map(|(_, s)| producible_codes(s, engine))
        .collect();
    for key in ["completed", "failed"] {
        let pointer = ptr(&["onex", "events", key]);
        let spec = onex.pointer(&format!("/events/{key}"));
        let event_type = spec
            .and_then(event_type_of)
            .unwrap_or(if key == "completed" {
                DEFAULT_COMPLETED
            } else {
                DEFAULT_FAILED
            });
        let declared: Vec<(String, String)> = match spec.filter(|s| s.get("payload").is_some()) {
            Some(s) => payload_fields(s)
                .into_iter()
                .map(|(k, e)| (k, e.to_owned()))
                .collect(),
            None if [DEFAULT_COMPLETED, DEFAULT_FAILED].contains(&event_type) => {
                terminal_payload(key == "completed").into_iter().collect()
            }
            None => Vec::new(),
        };
        check_event(
            f,
            &scope,
            &pointer,
            event_type,
            "pipeline",
            &declared,
            (key == "failed").then_some(&all_codes),
            "failure.code",
        );
    }
    for (si, stage) in stages(onex) {
        let stage_id = str_at(stage, "id").unwrap_or_default();
        if let (Some(h), Some(params)) = (str_at(stage, "handler"), stage.get("params"))
            && let Some(declared) = engine
                .and_then(|e| e.handler(h))
                .and_then(|i| i.param_event)
                .and_then(|f| f(params))
        {
            let (event_type, fields) = declared;
            check_event(
                f,
                &scope,
                &ptr(&["onex", "stages", &si.to_string(), "params"]),
                &event_type,
                stage_id,
                &fields,
                None,
                "",
            );
        }
        let Some(evs) = stage.get("events").and_then(Value::as_object) else {
            continue;
        };
        let codes = producible_codes(stage, engine);
        for (key, spec) in evs {
            let pointer = ptr(&["onex", "stages", &si.to_string(), "events", key]);
            let Some(event_type) = event_type_of(spec) else {
                continue;
            };
            let declared: Vec<(String, String)> = payload_fields(spec)
                .into_iter()
                .map(|(k, e)| (k, e.to_owned()))
                .collect();
            check_event(
                f,
                &scope,
                &pointer,
                event_type,
                stage_id,
                &declared,
                (key == "failed").then_some(&codes),
                "stage.error.code",
            );
        }
    }
}

/// The catalogue as ONEX101 sees it: the loaded events and the workflow's trigger types.
struct EventScope<'a> {
    events: &'a EventRegistry,
    triggers: Vec<&'a str>,
}

impl EventScope<'_> {
    /// The JSON types a plain `trigger.a.b` path can hold, from the triggers' payload schemas
    /// (`null` left out: a missing optional field is the run's business). `None` when the
    /// expression is not such a path or any trigger leaves the field's type open.
    fn trigger_path_types(&self, expression: &str) -> Option<BTreeSet<String>> {
        let path = expression.trim().strip_prefix("trigger.")?;
        let segments: Vec<&str> = path.split('.').collect();
        let plain = |s: &&str| {
            let mut c = s.chars();
            c.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if self.triggers.is_empty() || !segments.iter().all(plain) {
            return None;
        }
        let mut types = BTreeSet::new();
        for t in &self.triggers {
            let mut schema = &self.events.get(t)?.payload_schema;
            for seg in &segments {
                schema = field_schema(schema, seg)?;
            }
            types.extend(schema_types(schema)?.into_iter().filter(|t| t != "null"));
        }
        (!types.is_empty()).then_some(types)
    }
}

/// One declared event against the catalogue (see [`rule_101_events`]).
#[allow(clippy::too_many_arguments)]
fn check_event(
    f: &mut Findings<'_>,
    scope: &EventScope<'_>,
    pointer: &str,
    event_type: &str,
    stage_id: &str,
    declared: &[(String, String)],
    failure_codes: Option<&BTreeSet<String>>,
    code_expression: &str,
) {
    let Some(def) = scope.events.get(event_type) else {
        f.error(
            "ONEX101",
            pointer,
            format!("event '{event_type}' is not in the event catalogue"),
            "use an event type of the workflow's catalogue (`onex schema events`)",
        );
        return;
    };
    if !def.stage.allows(stage_id) {
        f.error(
            "ONEX101",
            pointer,
            format!(
                "event '{event_type}' cannot be emitted by {} (the catalogue gives it stage {})",
                if stage_id == "pipeline" {
                    "the run (a terminal event)".to_string()
                } else {
                    format!("stage '{stage_id}'")
                },
                def.stage
            ),
            "emit the stage's own events, or omit `events` to get the generic Stage* events",
        );
    }
    let schema = &def.payload_schema;
    let names: BTreeSet<&str> = declared.iter().map(|(k, _)| k.as_str()).collect();
    let missing: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !names.contains(r))
        .collect();
    if !missing.is_empty() {
        f.error(
            "ONEX101",
            pointer,
            format!(
                "payload of '{event_type}' lacks required field(s): {}",
                missing.join(", ")
            ),
            "add each field under `payload:` with an expression over the run context",
        );
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (field, e) in declared {
        let fp = format!(
            "{pointer}/payload/{}",
            field.replace('~', "~0").replace('/', "~1")
        );
        let Some(fs) = field_schema(schema, field) else {
            let known: Vec<&str> = schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let message = format!(
                "'{field}' is not a payload field of '{event_type}' (its fields: {})",
                known.join(", ")
            );
            if closed {
                f.error("ONEX101", &fp, message, "remove the field or fix its name");
            } else {
                f.warning(
                    "ONEX101",
                    &fp,
                    message,
                    "a misspelt field? add it to the catalogue's schema if it is meant",
                );
            }
            continue;
        };
        if let Ok(a) = analyse::expression(e)
            && let Some(t) = a.yields
            && let Some(allowed) = schema_types(fs)
            && !allowed.iter().any(|s| t.fits(s))
        {
            f.error(
                "ONEX101",
                &fp,
                format!(
                    "'{field}' of '{event_type}' must be {}, but `{e}` yields {}",
                    allowed.join(" or "),
                    t.schema_name()
                ),
                "map the field to an expression of the catalogue's type",
            );
        } else if let Some(held) = scope.trigger_path_types(e)
            && let Some(allowed) = schema_types(fs)
            && !held.iter().any(|h| {
                allowed
                    .iter()
                    .any(|a| a == h || (a == "number" && h == "integer"))
            })
        {
            f.error(
                "ONEX101",
                &fp,
                format!(
                    "'{field}' of '{event_type}' must be {}, but `{e}` is {} (the trigger's payload schema)",
                    allowed.join(" or "),
                    held.iter().cloned().collect::<Vec<_>>().join(" or ")
                ),
                "map the field to an expression of the catalogue's type",
            );
        }
        if let Some(codes) = failure_codes
            && e.trim() == code_expression
            && let Some(allowed) = fs.get("enum").and_then(Value::as_array)
        {
            let allowed: BTreeSet<&str> = allowed.iter().filter_map(Value::as_str).collect();
            let lacking: Vec<&str> = codes
                .iter()
                .map(String::as_str)
                .filter(|c| !allowed.contains(c))
                .collect();
            if !lacking.is_empty() {
                f.error(
                    "ONEX101",
                    &fp,
                    format!(
                        "the error_code list of '{event_type}' lacks code(s) this {} can end with: {}",
                        if stage_id == "pipeline" { "workflow" } else { "stage" },
                        lacking.join(", ")
                    ),
                    "add them to the event's error_code enum in the catalogue",
                );
            }
        }
    }
}

/// The JSON Schema `type` names a field schema admits (`None` when it does not say, e.g. an
/// enum or a `$ref`).
fn schema_types(fs: &Value) -> Option<Vec<String>> {
    match fs.get("type")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// The string members of an array or object, with their index or key.
fn strings(v: Option<&Value>) -> Vec<(String, &str)> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| Some((i.to_string(), x.as_str()?)))
            .collect(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, x)| Some((k.clone(), x.as_str()?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// What each stage knows: the context names its own and upstream stages produce, and whether
/// an unknown handler makes that set unknowable. Computed once for the whole graph (one pass in
/// topological order with bit sets), so a contract of thousands of stages stays linear-ish.
struct Reach {
    /// Stage id → index.
    index: HashMap<String, usize>,
    /// Per stage: itself and everything upstream.
    upstream: Vec<FixedBitSet>,
    /// Per stage: the names its own handlers / `outputs:` produce.
    produces: Vec<BTreeSet<String>>,
    /// Per stage: one of its handlers is not a registered stage handler.
    unknown: Vec<bool>,
    /// Per stage: the stages it depends on (ids that name no stage left out).
    deps: Vec<Vec<usize>>,
    /// Output name → the stages producing it, so "may stage i read `x`" is a few bit tests
    /// instead of a set of every upstream name built per stage (quadratic in the stage count).
    producers: HashMap<String, Vec<usize>>,
}

/// The names one expression may read: `fixed` ones, plus the outputs of the stages in `stages`.
struct Known<'a> {
    fixed: &'a BTreeSet<String>,
    reach: &'a Reach,
    stages: FixedBitSet,
}

impl Known<'_> {
    fn contains(&self, name: &str) -> bool {
        self.fixed.contains(name)
            || self
                .reach
                .producers
                .get(name)
                .is_some_and(|js| js.iter().any(|&j| self.stages.contains(j)))
    }

    /// Every name, for a diagnostic (built only when one is reported).
    fn names(&self) -> BTreeSet<String> {
        let mut names = self.fixed.clone();
        for j in self.stages.ones() {
            names.extend(self.reach.produces[j].iter().cloned());
        }
        names
    }
}

impl Reach {
    fn new(root: &Value, onex: &Value, engine: &dyn EngineKnowledge) -> Reach {
        let nodes = graph_nodes(root);
        let n = nodes.len();
        let index: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, (id, _, _))| (id.clone(), i))
            .collect();
        let mut produces = vec![BTreeSet::new(); n];
        let mut unknown = vec![false; n];
        for (_, s) in stages(onex) {
            let Some(&i) = str_at(s, "id").and_then(|id| index.get(id)) else {
                continue;
            };
            let id = str_at(s, "id").unwrap_or_default();
            for key in ["prepare", "handler"] {
                if let Some(h) = str_at(s, key) {
                    match engine.handler(h).filter(|i| i.stage) {
                        Some(info) => produces[i].extend(info.output_keys(id)),
                        None => unknown[i] = true,
                    }
                }
            }
            if s.get("outputs").is_some_and(Value::is_object) {
                produces[i].insert(id.to_owned());
            }
        }
        // Upstream sets by a DFS over depends_on with memoisation (the graph rules report
        // cycles; here a cycle just stops the walk).
        let deps: Vec<Vec<usize>> = nodes
            .iter()
            .map(|(_, d, _)| d.iter().filter_map(|x| index.get(x).copied()).collect())
            .collect();
        let mut upstream: Vec<Option<FixedBitSet>> = vec![None; n];
        let mut visiting = vec![false; n];
        fn visit(
            i: usize,
            deps: &[Vec<usize>],
            up: &mut Vec<Option<FixedBitSet>>,
            visiting: &mut [bool],
        ) {
            if up[i].is_some() || visiting[i] {
                return;
            }
            visiting[i] = true;
            let mut set = FixedBitSet::with_capacity(deps.len());
            set.insert(i);
            for &d in &deps[i] {
                visit(d, deps, up, visiting);
                if let Some(ds) = &up[d] {
                    set.union_with(ds);
                }
            }
            visiting[i] = false;
            up[i] = Some(set);
        }
        for i in 0..n {
            visit(i, &deps, &mut upstream, &mut visiting);
        }
        let mut producers: HashMap<String, Vec<usize>> = HashMap::new();
        for (j, names) in produces.iter().enumerate() {
            for name in names {
                producers.entry(name.clone()).or_default().push(j);
            }
        }
        Reach {
            index,
            upstream: upstream
                .into_iter()
                .map(|s| s.unwrap_or_else(|| FixedBitSet::with_capacity(n)))
                .collect(),
            produces,
            unknown,
            deps,
            producers,
        }
    }

    /// What stage `id` may read (itself and everything upstream), and what it may read before
    /// it produced anything (upstream only); `None` when unknowable (a handler not registered,
    /// or a stage outside the graph).
    fn known<'a>(
        &'a self,
        id: &str,
        fixed: &'a BTreeSet<String>,
    ) -> Option<(Known<'a>, Known<'a>)> {
        let &i = self.index.get(id)?;
        let up = &self.upstream[i];
        if up.ones().any(|j| self.unknown[j]) {
            return None;
        }
        let mut before = FixedBitSet::with_capacity(self.produces.len());
        for &d in &self.deps[i] {
            before.union_with(&self.upstream[d]);
        }
        let known = |stages| Known {
            fixed,
            reach: self,
            stages,
        };
        Some((known(up.clone()), known(before)))
    }

    /// Everything the whole run may read (result mapping, terminal events); `None` when
    /// unknowable.
    fn all<'a>(&'a self, fixed: &'a BTreeSet<String>) -> Option<Known<'a>> {
        if self.unknown.iter().any(|u| *u) {
            return None;
        }
        let mut stages = FixedBitSet::with_capacity(self.produces.len());
        stages.insert_range(..);
        Some(Known {
            fixed,
            reach: self,
            stages,
        })
    }
}

/// ONEX102: every expression and message template parses, calls only filters, tests and
/// functions the engine has, and reads only known run-context fields (the base context and the
/// outputs of the stage's own and upstream stages).
fn rule_102_expressions(
    root: &Value,
    onex: &Value,
    engine: &dyn EngineKnowledge,
    f: &mut Findings<'_>,
) {
    let reach = Reach::new(root, onex, engine);
    let base: BTreeSet<String> = BASE_CONTEXT.iter().map(|s| s.to_string()).collect();
    let mut in_stage = base.clone();
    in_stage.extend(STAGE_CONTEXT.iter().map(|s| s.to_string()));
    // Gate messages may also read the handler's `details` (file, line, version …).
    let mut in_message = in_stage.clone();
    in_message.insert(GATE_MESSAGE_CONTEXT.to_owned());

    for (si, stage) in stages(onex) {
        let sid = si.to_string();
        let stage_id = str_at(stage, "id").unwrap_or_default();
        // `outputs:` expressions are evaluated before the stage produces anything itself.
        let (known, before) = reach.known(stage_id, &in_stage).unzip();
        let msg = reach.known(stage_id, &in_message).map(|(k, _)| k);
        let (expr_k, msg_k, before_k) = (known.as_ref(), msg.as_ref(), before.as_ref());
        let base_ptr = ptr(&["onex", "stages", sid.as_str()]);
        // `suffix` is a pointer relative to the stage.
        let mut at = |src: &str, kind: Kind, known: Option<&Known<'_>>, suffix: &str| {
            check_expr(src, kind, known, &format!("{base_ptr}{suffix}"), f);
        };
        let kind_of = |template: bool| {
            if template {
                Kind::Template
            } else {
                Kind::Expression
            }
        };
        if let Some(e) = stage.pointer("/when/expression").and_then(Value::as_str) {
            at(e, Kind::Expression, before_k, &ptr(&["when", "expression"]));
        }
        for (field, e) in strings(stage.get("outputs")) {
            at(e, Kind::Expression, before_k, &ptr(&["outputs", &field]));
        }
        for (key, spec) in stage
            .get("events")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (field, e) in payload_fields(spec) {
                at(
                    e,
                    Kind::Expression,
                    expr_k,
                    &ptr(&["events", key, "payload", &field]),
                );
            }
        }
        let param_exprs = |name: Option<&str>, params: Option<&Value>| -> Vec<ParamExpr> {
            match (name.and_then(|h| engine.handler(h)), params) {
                (Some(info), Some(p)) => info.param_expressions.map(|f| f(p)).unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        // A stage handler's params are evaluated before it produces anything.
        for pe in param_exprs(str_at(stage, "handler"), stage.get("params")) {
            at(
                &pe.source,
                kind_of(pe.template),
                before_k,
                &format!("/params{}", pe.pointer),
            );
        }
        for (gi, gate) in gates(stage) {
            let gi = gi.to_string();
            for pe in param_exprs(str_at(gate, "handler"), gate.get("params")) {
                at(
                    &pe.source,
                    kind_of(pe.template),
                    expr_k,
                    &format!("/gates/{gi}/params{}", pe.pointer),
                );
            }
            if let Some(e) = str_at(gate, "expression") {
                at(
                    e,
                    Kind::Expression,
                    expr_k,
                    &ptr(&["gates", &gi, "expression"]),
                );
            }
            for key in ["fail_message", "pass_message"] {
                if let Some(t) = str_at(gate, key) {
                    at(t, Kind::Template, msg_k, &ptr(&["gates", &gi, key]));
                }
            }
            for (ci, check) in gate
                .get("checks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let ci = ci.to_string();
                if let Some(e) = str_at(check, "expression") {
                    at(
                        e,
                        Kind::Expression,
                        expr_k,
                        &ptr(&["gates", &gi, "checks", &ci, "expression"]),
                    );
                }
                if let Some(t) = str_at(check, "fail_message") {
                    at(
                        t,
                        Kind::Template,
                        msg_k,
                        &ptr(&["gates", &gi, "checks", &ci, "fail_message"]),
                    );
                }
            }
            for (ri, t) in strings(gate.get("recovery_suggestions")) {
                at(
                    t,
                    Kind::Template,
                    msg_k,
                    &ptr(&["gates", &gi, "recovery_suggestions", &ri]),
                );
            }
        }
    }
    // The result mapping and the terminal events see the whole run.
    let all = reach.all(&base);
    let result_known = all.as_ref();
    for (field, e) in strings(onex.get("result")) {
        check_expr(
            e,
            Kind::Expression,
            result_known,
            &ptr(&["onex", "result", &field]),
            f,
        );
    }
    let mut terminal_names = base.clone();
    terminal_names.extend(TERMINAL_CONTEXT.iter().map(|s| s.to_string()));
    let terminal = reach.all(&terminal_names);
    let terminal_known = terminal.as_ref();
    for key in ["completed", "failed"] {
        if let Some(spec) = onex.pointer(&format!("/events/{key}")) {
            for (field, e) in payload_fields(spec) {
                check_expr(
                    e,
                    Kind::Expression,
                    terminal_known,
                    &ptr(&["onex", "events", key, "payload", &field]),
                    f,
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Expression,
    Template,
}

/// Checks that `src` parses, calls only what the engine has and, when `known` is given, reads
/// only those names.
fn check_expr(
    src: &str,
    kind: Kind,
    known: Option<&Known<'_>>,
    pointer: &str,
    f: &mut Findings<'_>,
) {
    let (vars, analysis) = match kind {
        Kind::Expression => (expr::expression_variables(src), analyse::expression(src)),
        Kind::Template => (expr::template_variables(src), analyse::template(src)),
    };
    let vars = match (vars, analysis) {
        (Err(e), _) | (_, Err(e)) => {
            f.error(
                "ONEX102",
                pointer,
                format!("does not parse: {e}"),
                "expressions use minijinja syntax: `parsed.service_name is matching('^[a-z_]+$')`",
            );
            return;
        }
        (Ok(vars), Ok(a)) => {
            if !a.unknown.is_empty() {
                f.error(
                    "ONEX102",
                    pointer,
                    format!("`{src}`: {}", a.unknown.describe()),
                    "see docs/contracts.md \"Expressions\" for the filters, tests and functions offered",
                );
            }
            vars
        }
    };
    let Some(known) = known else {
        return; // only syntax and names of filters/tests/functions are checked here
    };
    let unknown: Vec<&String> = vars
        .iter()
        .filter(|v| !known.contains(v) && !expr::is_global(v))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        let offered = known.names();
        let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
        f.error(
            "ONEX102",
            pointer,
            format!(
                "reads unknown run-context field(s): {} (known here: {})",
                names.join(", "),
                offered.join(", ")
            ),
            "read only the base context and outputs of this stage or upstream stages",
        );
    }
}

/// ONEX103 (and ONEX108): the `params:` given to a handler are ones it reads, the required ones
/// are there, and the handler's own check accepts them.
fn rule_103_params(onex: &Value, engine: &dyn EngineKnowledge, f: &mut Findings<'_>) {
    for (name, _, _, params_ptr, params) in handler_uses(onex) {
        let Some(info) = engine.handler(name) else {
            continue; // ONEX100
        };
        let given: Vec<&str> = params
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let names: Vec<&str> = info.params.iter().map(|p| p.name).collect();
        for g in &given {
            if !names.contains(g) {
                let hint = crate::diag::did_you_mean(g, names.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                f.error(
                    "ONEX103",
                    &format!("{params_ptr}/{g}"),
                    format!("handler '{name}' has no parameter '{g}'{hint}"),
                    "`onex handlers` lists each handler's parameters",
                );
            }
        }
        for p in info.params.iter().filter(|p| p.required) {
            if !given.contains(&p.name) {
                f.error(
                    "ONEX103",
                    &params_ptr,
                    format!("handler '{name}' needs parameter '{}' ({})", p.name, p.doc),
                    "`onex handlers` lists each handler's parameters",
                );
            }
        }
        if let (Some(check), Some(params)) = (info.check_params, params) {
            for problem in check(params) {
                let pointer = format!("{params_ptr}{}", problem.pointer);
                let severity = crate::contract::codes::rule(problem.code)
                    .map_or(Severity::Error, |r| r.severity);
                f.push(
                    problem.code,
                    severity,
                    &pointer,
                    format!("handler '{name}': {}", problem.message),
                    crate::contract::codes::rule(problem.code).map_or("", |r| r.help),
                );
            }
        }
    }
}

/// ONEX104: one `onex:` stage per graph node and none other; stage ids unique and not
/// `pipeline`; gate ids unique in the contract and distinct from stage ids; a stage has at most
/// one of `handler` and `outputs`.
fn rule_104_ids(root: &Value, onex: &Value, f: &mut Findings<'_>) {
    let nodes: BTreeMap<String, usize> = graph_nodes(root)
        .into_iter()
        .map(|(id, _, i)| (id, i))
        .collect();
    let mut stage_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (si, stage) in stages(onex) {
        let Some(id) = str_at(stage, "id") else {
            continue;
        };
        let pointer = ptr(&["onex", "stages", &si.to_string(), "id"]);
        if id == "pipeline" {
            f.error(
                "ONEX104",
                &pointer,
                "stage id 'pipeline' is reserved for run-level events".into(),
                "rename the stage",
            );
        }
        if stage_ids.insert(id, si).is_some() {
            f.error(
                "ONEX104",
                &pointer,
                format!("stage '{id}' is declared twice"),
                "give each stage one entry",
            );
        }
        if !nodes.contains_key(id) {
            f.error(
                "ONEX104",
                &pointer,
                format!("stage '{id}' has no node in workflow_coordination's execution_graph"),
                "add `- node_id: <stage id>` to execution_graph.nodes (its depends_on orders stages)",
            );
        }
        if stage.get("handler").is_some() && stage.get("outputs").is_some() {
            f.error(
                "ONEX104",
                &ptr(&["onex", "stages", &si.to_string(), "outputs"]),
                format!("stage '{id}' has both a handler and `outputs:`"),
                "a stage's outputs come from its handler or from `outputs:` expressions, not both",
            );
        }
    }
    for (id, i) in &nodes {
        if !stage_ids.contains_key(id.as_str()) {
            f.error(
                "ONEX104",
                &format!("/workflow_coordination/workflow_definition/execution_graph/nodes/{i}"),
                format!("graph node '{id}' has no stage under onex.stages"),
                "add a stage with this id, or remove the node",
            );
        }
    }
    let mut gate_ids: BTreeSet<&str> = BTreeSet::new();
    for (si, stage) in stages(onex) {
        for (gi, gate) in gates(stage) {
            let Some(id) = str_at(gate, "id") else {
                continue;
            };
            let pointer = ptr(&[
                "onex",
                "stages",
                &si.to_string(),
                "gates",
                &gi.to_string(),
                "id",
            ]);
            if !gate_ids.insert(id) {
                f.error(
                    "ONEX104",
                    &pointer,
                    format!("gate '{id}' is declared twice"),
                    "gate ids are unique across the contract",
                );
            }
            if stage_ids.contains_key(id) || id == "pipeline" {
                f.error(
                    "ONEX104",
                    &pointer,
                    format!("gate id '{id}' clashes with a stage id"),
                    "rename the gate",
                );
            }
        }
    }
}

/// ONEX105: a gate's `depends_on` names gates of the same stage, without a cycle.
fn rule_105_gate_deps(onex: &Value, f: &mut Findings<'_>) {
    for (si, stage) in stages(onex) {
        let ids: BTreeMap<&str, usize> = gates(stage)
            .filter_map(|(gi, g)| Some((str_at(g, "id")?, gi)))
            .collect();
        let mut graph = petgraph::graph::DiGraph::<&str, ()>::new();
        let idx: BTreeMap<&str, _> = ids.keys().map(|id| (*id, graph.add_node(*id))).collect();
        for (gi, gate) in gates(stage) {
            let Some(id) = str_at(gate, "id") else {
                continue;
            };
            for (di, dep) in str_list(gate.get("depends_on")).iter().enumerate() {
                let pointer = ptr(&[
                    "onex",
                    "stages",
                    &si.to_string(),
                    "gates",
                    &gi.to_string(),
                    "depends_on",
                    &di.to_string(),
                ]);
                match idx.get(dep.as_str()) {
                    Some(d) => {
                        graph.add_edge(*d, idx[id], ());
                    }
                    None => f.error(
                        "ONEX105",
                        &pointer,
                        format!(
                            "gate '{id}' depends on '{dep}', which is not a gate of this stage"
                        ),
                        "gate dependencies stay within one stage",
                    ),
                }
            }
        }
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let cyclic = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if cyclic {
                let mut names: Vec<&str> = scc.iter().map(|n| graph[*n]).collect();
                names.sort_unstable();
                let first = names[0];
                let pointer = ptr(&[
                    "onex",
                    "stages",
                    &si.to_string(),
                    "gates",
                    &ids[first].to_string(),
                    "depends_on",
                ]);
                names.push(first);
                f.error(
                    "ONEX105",
                    &pointer,
                    format!("gate dependencies form a cycle: {}", names.join(" -> ")),
                    "remove one of the dependencies",
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The IR
// ---------------------------------------------------------------------------------------------

/// `{major, minor, patch}` or a string, as `X.Y.Z`.
fn version_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Object(m) => {
            let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
            Some(format!("{}.{}.{}", n("major"), n("minor"), n("patch")))
        }
        _ => None,
    }
}

fn location(doc: &SourceDoc, pointer: &str) -> String {
    let l = doc.locate(pointer);
    format!("{}:{}:{}", l.path.display(), l.pos.line, l.pos.column)
}

/// Builds the IR from a document that validated without errors. An `Err` here means the
/// document was not validated first (a programming error is still reported, never a panic).
pub fn build(doc: &SourceDoc) -> Result<ExecutableContract, String> {
    let root = &doc.value;
    let onex = root.get("onex").ok_or("no `onex:` block")?;
    let wd = root
        .pointer("/workflow_coordination/workflow_definition")
        .ok_or("no workflow_coordination.workflow_definition")?;
    let meta = wd.get("workflow_metadata");
    let workflow_name = meta
        .and_then(|m| str_at(m, "workflow_name"))
        .or_else(|| str_at(root, "name"))
        .unwrap_or_default()
        .to_owned();
    let workflow_version = version_text(meta.and_then(|m| m.get("workflow_version")))
        .or_else(|| version_text(root.get("node_version")))
        .or_else(|| version_text(root.get("contract_version")))
        .unwrap_or_else(|| "0.0.0".into());
    let execution_mode = match meta
        .and_then(|m| str_at(m, "execution_mode"))
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("sequential") => ExecutionMode::Sequential,
        Some("parallel") => ExecutionMode::Parallel,
        Some("batch") => ExecutionMode::Batch,
        Some(other) => return Err(format!("execution_mode '{other}' cannot run")),
    };
    let run_timeout = onex
        .get("run_timeout_ms")
        .and_then(Value::as_u64)
        .or_else(|| {
            meta.and_then(|m| m.get("timeout_ms"))
                .and_then(Value::as_u64)
        })
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_RUN_TIMEOUT);

    let nodes = graph_nodes(root);
    let specs: HashMap<&str, (usize, &Value)> = stages(onex)
        .filter_map(|(i, s)| Some((str_at(s, "id")?, (i, s))))
        .collect();
    let mut stages_ir = Vec::new();
    for (id, depends_on, _) in &nodes {
        let (si, s) = specs
            .get(id.as_str())
            .ok_or_else(|| format!("graph node '{id}' has no stage"))?;
        stages_ir.push(build_stage(doc, id, depends_on.clone(), *si, s)?);
    }
    let terminal = |key: &str, default: &str| -> EventSpec {
        let spec = onex.pointer(&format!("/events/{key}"));
        let event_type = spec.and_then(event_type_of).unwrap_or(default).to_owned();
        let payload = match spec.and_then(|s| s.get("payload")) {
            Some(p) => object_of_strings(Some(p)),
            None if [DEFAULT_COMPLETED, DEFAULT_FAILED].contains(&event_type.as_str()) => {
                terminal_payload(key == "completed")
            }
            None => IndexMap::new(),
        };
        EventSpec {
            event_type,
            payload,
            pointer: ptr(&["onex", "events", key]),
        }
    };
    Ok(ExecutableContract {
        name: str_at(root, "name").unwrap_or_default().to_owned(),
        path: doc.path.clone(),
        workflow_name,
        workflow_version,
        execution_mode,
        catalogs: catalog_paths(&doc.path, root)
            .into_iter()
            .map(|(p, _)| p)
            .collect(),
        triggers: str_list(onex.get("triggers")),
        trigger_locations: (0..str_list(onex.get("triggers")).len())
            .map(|i| location(doc, &ptr(&["onex", "triggers", &i.to_string()])))
            .collect(),
        run_timeout,
        stages: stages_ir,
        result: object_of_strings(onex.get("result")),
        completed: terminal("completed", DEFAULT_COMPLETED),
        failed: terminal("failed", DEFAULT_FAILED),
    })
}

fn object_of_strings(v: Option<&Value>) -> IndexMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn build_stage(
    doc: &SourceDoc,
    id: &str,
    depends_on: Vec<String>,
    si: usize,
    s: &Value,
) -> Result<StageSpec, String> {
    let pointer = ptr(&["onex", "stages", &si.to_string()]);
    let retry = match s.get("retry") {
        Some(r) => {
            serde_json::from_value(r.clone()).map_err(|e| format!("stage '{id}': retry: {e}"))?
        }
        None => RetryPolicy::default(),
    };
    let when = s.get("when").map(|w| When {
        expression: str_at(w, "expression").unwrap_or("true").to_owned(),
        skip_reason: str_at(w, "skip_reason")
            .unwrap_or("condition not met")
            .to_owned(),
    });
    let event = |key: &str| -> Option<EventSpec> {
        let spec = s.get("events")?.get(key)?;
        Some(EventSpec {
            event_type: event_type_of(spec)?.to_owned(),
            payload: object_of_strings(spec.get("payload")),
            pointer: format!("{pointer}/events/{key}"),
        })
    };
    let mut gates_ir = Vec::new();
    for (gi, g) in gates(s) {
        let gid = str_at(g, "id").ok_or_else(|| format!("stage '{id}': gate without id"))?;
        let check = if let Some(h) = str_at(g, "handler") {
            GateCheck::Handler(h.to_owned())
        } else if let Some(e) = str_at(g, "expression") {
            GateCheck::Checks(vec![Check {
                expression: e.to_owned(),
                fail_message: str_at(g, "fail_message")
                    .unwrap_or("check failed")
                    .to_owned(),
            }])
        } else if let Some(checks) = g.get("checks").and_then(Value::as_array) {
            GateCheck::Checks(
                checks
                    .iter()
                    .map(|c| Check {
                        expression: str_at(c, "expression").unwrap_or("false").to_owned(),
                        fail_message: str_at(c, "fail_message")
                            .unwrap_or("check failed")
                            .to_owned(),
                    })
                    .collect(),
            )
        } else {
            return Err(format!("gate '{gid}': no handler, expression or checks"));
        };
        let gate_pointer = format!("{pointer}/gates/{gi}");
        gates_ir.push(GateSpec {
            id: gid.to_owned(),
            name: str_at(g, "name").unwrap_or(gid).to_owned(),
            gate_type: match str_at(g, "type") {
                Some(t) if t.eq_ignore_ascii_case("warning") => GateType::Warning,
                _ => GateType::Blocking,
            },
            check,
            params: g.get("params").cloned().unwrap_or(Value::Null),
            error_code: str_at(g, "error_code").unwrap_or("GATE_FAILED").to_owned(),
            pass_message: str_at(g, "pass_message").map(str::to_owned),
            recovery_suggestions: str_list(g.get("recovery_suggestions")),
            depends_on: str_list(g.get("depends_on")),
            parallel: g.get("parallel").and_then(Value::as_bool).unwrap_or(false),
            location: location(doc, &gate_pointer),
            pointer: gate_pointer,
        });
    }
    Ok(StageSpec {
        id: id.to_owned(),
        depends_on,
        prepare: str_at(s, "prepare").map(str::to_owned),
        handler: str_at(s, "handler").map(str::to_owned),
        params: s.get("params").cloned().unwrap_or(Value::Null),
        outputs: object_of_strings(s.get("outputs")),
        timeout: s
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .map(Duration::from_millis),
        retry,
        when,
        events: StageEvents {
            started: event("started"),
            completed: event("completed"),
            failed: event("failed"),
            progress: event("progress"),
        },
        gates: gates_ir,
        error_code: str_at(s, "error_code")
            .unwrap_or("INTERNAL_ERROR")
            .to_owned(),
        location: location(doc, &pointer),
        pointer,
    })
}

/// The IR of a workflow contract from its validation report: every error of the report, or
/// the contract. One validation path serves start-up, reload and `onex validate`.
pub fn from_report(
    report: &crate::contract::validate::FileReport,
) -> Result<ExecutableContract, Vec<Diagnostic>> {
    let errors: Vec<Diagnostic> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let not_workflow = |message: &str| {
        vec![Diagnostic {
            code: "ONEX104".into(),
            severity: Severity::Error,
            message: message.into(),
            path: report.path.clone(),
            pos: Pos { line: 1, column: 1 },
            pointer: String::new(),
            help: "run a dialect X workflow contract (an `onex:` block with stages)".into(),
        }]
    };
    let Some(doc) = &report.doc else {
        return Err(not_workflow("the file holds no contract"));
    };
    if doc.value.get("onex").is_none() || is_catalog(&doc.value) {
        return Err(not_workflow("not an executable workflow contract"));
    }
    build(doc).map_err(|m| not_workflow(&m))
}
