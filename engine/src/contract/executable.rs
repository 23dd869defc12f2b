//! Dialect X: our executable contracts (onex-contracts spec §8.3).
//!
//! A pipeline contract is an ONEX ORCHESTRATOR contract whose
//! `workflow_coordination.workflow_definition.execution_graph` is the stage DAG, plus an `onex:`
//! block holding what the engine runs: triggers, stages (handler, gates, events, timeout,
//! retries), the run timeout and how the run result is derived. The event catalogue is a dialect
//! X file too (`onex.catalog`), checked by the catalogue loader ([`crate::events::catalog`]).
//!
//! This module holds the validated IR ([`ExecutableContract`]), its construction from a loaded
//! document, and the engine rules ONEX100–ONEX105, which need to know what the engine offers
//! ([`EngineKnowledge`]: registered handlers, the template pack, the event catalogue).

use crate::diag::{Diagnostic, Pos, Severity};
use crate::events::EventCatalog;
use crate::pipeline::expr;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// What a registered handler is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HandlerKind {
    /// Runs as a stage's work; its outputs join the run context.
    Stage,
    /// Decides a gate.
    Gate,
}

/// A registered handler as the validator sees it.
#[derive(Debug, Clone, Copy)]
pub struct HandlerInfo {
    pub kind: HandlerKind,
    /// The run-context keys the handler's outputs are stored under (stage handlers).
    pub outputs: &'static [&'static str],
}

/// What the engine offers to contracts: the handler registry, the template pack and the event
/// catalogue. Implemented by the handler registry (nodes/handlers).
pub trait EngineKnowledge: Send + Sync {
    fn handler(&self, name: &str) -> Option<HandlerInfo>;
    fn has_template(&self, name: &str) -> bool;
    fn catalog(&self) -> &EventCatalog;
}

/// Run-context names every expression may read, whatever stage it belongs to.
pub const BASE_CONTEXT: &[&str] = &["prompt", "correlation_id", "options", "run", "stages"];
/// Extra names visible to a stage's own expressions (gates, events, `when`).
pub const STAGE_CONTEXT: &[&str] = &["stage"];
/// Extra name visible to gate message templates: the deciding handler's details.
pub const GATE_MESSAGE_CONTEXT: &str = "details";

/// How independent stages are scheduled (onex-contracts §8.1).
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

/// An event a stage emits, with its payload as expressions over the run context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSpec {
    pub event_type: String,
    /// Payload field → expression.
    pub payload: IndexMap<String, String>,
    /// JSON pointer of the declaration (for diagnostics at run time).
    pub pointer: String,
}

/// The events of one stage. A stage without its own events emits the generic
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
    /// Runs before the started event, so that event can report what it found (the
    /// interpreter probe of the compilation stage); its outputs join the run context.
    pub prepare: Option<String>,
    pub handler: Option<String>,
    /// Free parameters handed to the handler.
    pub params: Value,
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub when: Option<When>,
    pub events: StageEvents,
    pub gates: Vec<GateSpec>,
    /// Error code of a failure that is not a gate's (handler failure without its own code).
    pub error_code: String,
    pub pointer: String,
}

impl StageSpec {
    /// Whether the stage's gates may run concurrently (any gate declares `depends_on` or
    /// `parallel: true`).
    pub fn concurrent_gates(&self) -> bool {
        self.gates
            .iter()
            .any(|g| g.parallel || !g.depends_on.is_empty())
    }
}

/// The validated, executable form of a dialect X pipeline contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutableContract {
    pub name: String,
    pub path: PathBuf,
    pub workflow_name: String,
    pub execution_mode: ExecutionMode,
    pub triggers: Vec<String>,
    pub run_timeout: Duration,
    /// In declaration order of the execution graph.
    pub stages: Vec<StageSpec>,
    /// PipelineResult field → expression over the final run context.
    pub result: IndexMap<String, String>,
    /// Terminal event types (engine-built payloads, generation-pipeline §5.3 rows 20–21).
    pub completed_event: String,
    pub failed_event: String,
}

impl ExecutableContract {
    pub fn stage(&self, id: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.id == id)
    }
}

/// The default whole-run timeout (generation-pipeline §1).
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a JSON pointer of the document is in the sources.
pub type Locate<'a> = &'a dyn Fn(&str) -> (PathBuf, Pos);

/// Collects findings of the engine rules with their locations.
struct Findings<'a> {
    locate: Locate<'a>,
    out: &'a mut Vec<Diagnostic>,
}

impl Findings<'_> {
    fn error(&mut self, code: &str, pointer: &str, message: String, help: &str) {
        let (path, pos) = (self.locate)(pointer);
        self.out.push(Diagnostic {
            code: code.into(),
            severity: Severity::Error,
            message,
            path,
            pos,
            pointer: pointer.into(),
            help: help.into(),
        });
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

/// Is this document an event catalogue (rather than a pipeline contract)?
pub fn is_catalog(root: &Value) -> bool {
    root.get("onex").and_then(|o| o.get("catalog")).is_some()
}

/// The graph nodes of the pipeline: (node_id, depends_on, index) in declaration order.
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

/// Rules ONEX100–ONEX105 for a dialect X document (`root` = the document after includes).
/// Structural problems are the JSON Schema's (`schemas/onex-executable.schema.json`); these rules
/// assume nothing about structure and skip what is malformed.
pub fn check_value(
    root: &Value,
    engine: Option<&dyn EngineKnowledge>,
    locate: Locate<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let mut f = Findings { locate, out };
    if is_catalog(root) {
        return; // the catalogue's own rules live with its loader
    }
    let Some(onex) = root.get("onex") else { return };
    rule_104_ids(root, onex, &mut f);
    rule_105_gate_deps(onex, &mut f);
    if let Some(engine) = engine {
        rule_100_handlers(onex, engine, &mut f);
        rule_101_events(onex, engine.catalog(), &mut f);
        rule_102_expressions(root, onex, engine, &mut f);
        rule_103_templates(onex, engine, &mut f);
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

/// ONEX100: every stage and gate `handler` is registered in the engine, for its use.
fn rule_100_handlers(onex: &Value, engine: &dyn EngineKnowledge, f: &mut Findings<'_>) {
    let mut check = |name: &str, want: HandlerKind, pointer: String| match engine.handler(name) {
        None => f.error(
            "ONEX100",
            &pointer,
            format!("handler '{name}' is not registered in the engine"),
            "use a handler listed by `onex handlers`, or an expression gate",
        ),
        Some(info) if info.kind != want => f.error(
            "ONEX100",
            &pointer,
            format!(
                "handler '{name}' is a {} handler, not a {} handler",
                kind_word(info.kind),
                kind_word(want)
            ),
            "stage handlers produce outputs; gate handlers decide gates",
        ),
        Some(_) => {}
    };
    for (si, stage) in stages(onex) {
        for key in ["prepare", "handler"] {
            if let Some(h) = str_at(stage, key) {
                check(
                    h,
                    HandlerKind::Stage,
                    ptr(&["onex", "stages", &si.to_string(), key]),
                );
            }
        }
        for (gi, gate) in gates(stage) {
            if let Some(h) = str_at(gate, "handler") {
                check(
                    h,
                    HandlerKind::Gate,
                    ptr(&[
                        "onex",
                        "stages",
                        &si.to_string(),
                        "gates",
                        &gi.to_string(),
                        "handler",
                    ]),
                );
            }
        }
    }
}

fn kind_word(k: HandlerKind) -> &'static str {
    match k {
        HandlerKind::Stage => "stage",
        HandlerKind::Gate => "gate",
    }
}

/// ONEX101: every trigger and emitted event type is in the event catalogue, may be emitted by
/// that stage, and its payload declares every field the catalogue requires.
fn rule_101_events(onex: &Value, catalog: &EventCatalog, f: &mut Findings<'_>) {
    let help = "use an event type of contracts/pipeline_events.yaml (`onex schema events`)";
    for (i, t) in onex
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(t) = t.as_str()
            && catalog.get(t).is_none()
        {
            f.error(
                "ONEX101",
                &ptr(&["onex", "triggers", &i.to_string()]),
                format!("trigger '{t}' is not in the event catalogue"),
                help,
            );
        }
    }
    for key in ["completed", "failed"] {
        if let Some(t) = onex
            .pointer(&format!("/events/{key}"))
            .and_then(Value::as_str)
            && catalog.get(t).is_none()
        {
            f.error(
                "ONEX101",
                &ptr(&["onex", "events", key]),
                format!("terminal event '{t}' is not in the event catalogue"),
                help,
            );
        }
    }
    for (si, stage) in stages(onex) {
        let stage_id = str_at(stage, "id").unwrap_or_default();
        let Some(events) = stage.get("events").and_then(Value::as_object) else {
            continue;
        };
        for (key, spec) in events {
            let pointer = ptr(&["onex", "stages", &si.to_string(), "events", key]);
            let Some(event_type) = event_type_of(spec) else {
                continue;
            };
            let Some(def) = catalog.get(event_type) else {
                f.error(
                    "ONEX101",
                    &pointer,
                    format!("event '{event_type}' is not in the event catalogue"),
                    help,
                );
                continue;
            };
            if !def.stage.allows(stage_id) {
                f.error(
                    "ONEX101",
                    &pointer,
                    format!(
                        "event '{event_type}' cannot be emitted by stage '{stage_id}' (the catalogue \
                         gives it stage {})",
                        def.stage
                    ),
                    "emit the stage's own events, or omit `events` to get the generic Stage* events",
                );
            }
            let declared: BTreeSet<&str> = spec
                .get("payload")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let missing: Vec<&str> = def
                .payload_schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|r| !declared.contains(r))
                .collect();
            if !missing.is_empty() {
                f.error(
                    "ONEX101",
                    &pointer,
                    format!(
                        "payload of '{event_type}' lacks required field(s): {}",
                        missing.join(", ")
                    ),
                    "add each field under `payload:` with an expression over the run context",
                );
            }
        }
    }
}

fn event_type_of(spec: &Value) -> Option<&str> {
    spec.as_str().or_else(|| str_at(spec, "type"))
}

/// ONEX102: every expression and message template parses and reads only known run-context
/// fields (the base context, and the outputs of the stage's own and upstream handlers).
fn rule_102_expressions(
    root: &Value,
    onex: &Value,
    engine: &dyn EngineKnowledge,
    f: &mut Findings<'_>,
) {
    let nodes = graph_nodes(root);
    let deps: HashMap<&str, &[String]> = nodes
        .iter()
        .map(|(id, d, _)| (id.as_str(), d.as_slice()))
        .collect();
    let mut stage_handler: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, s) in stages(onex) {
        if let Some(id) = str_at(s, "id") {
            let hs = stage_handler.entry(id).or_default();
            hs.extend(["prepare", "handler"].iter().filter_map(|k| str_at(s, k)));
        }
    }
    // A stage whose own or upstream handler is not a registered stage handler reads outputs
    // nobody can know;
    // its field checks are left out (ONEX100 reports the handler, once).
    let unknown_upstream = |stage: &str| -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![stage.to_owned()];
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if stage_handler
                .get(s.as_str())
                .into_iter()
                .flatten()
                .any(|h| {
                    engine
                        .handler(h)
                        .is_none_or(|i| i.kind != HandlerKind::Stage)
                })
            {
                return true;
            }
            todo.extend(
                deps.get(s.as_str())
                    .into_iter()
                    .flat_map(|d| d.iter().cloned()),
            );
        }
        false
    };
    let outputs_of = |stage: &str| -> BTreeSet<String> {
        // The stage itself and everything upstream of it.
        let mut seen = BTreeSet::new();
        let mut todo = vec![stage.to_owned()];
        let mut names = BTreeSet::new();
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            for h in stage_handler.get(s.as_str()).into_iter().flatten() {
                if let Some(info) = engine.handler(h) {
                    names.extend(info.outputs.iter().map(|o| o.to_string()));
                }
            }
            todo.extend(
                deps.get(s.as_str())
                    .into_iter()
                    .flat_map(|d| d.iter().cloned()),
            );
        }
        names
    };
    let base: BTreeSet<String> = BASE_CONTEXT.iter().map(|s| s.to_string()).collect();

    for (si, stage) in stages(onex) {
        let sid = si.to_string();
        let stage_id = str_at(stage, "id").unwrap_or_default();
        let lenient = unknown_upstream(stage_id);
        let mut known = base.clone();
        known.extend(STAGE_CONTEXT.iter().map(|s| s.to_string()));
        known.extend(outputs_of(stage_id));
        // Gate messages may also read the handler's `details` (file, line, version …).
        let mut known_msg = known.clone();
        known_msg.insert(GATE_MESSAGE_CONTEXT.to_owned());
        let (expr, msg) = if lenient {
            (None, None)
        } else {
            (Some(&known), Some(&known_msg))
        };
        let mut at = |src: &str, kind: Kind, known: Option<&BTreeSet<String>>, tail: &[&str]| {
            let mut p = vec!["onex", "stages", sid.as_str()];
            p.extend_from_slice(tail);
            check_expr(src, kind, known, &ptr(&p), f);
        };
        if let Some(e) = stage.pointer("/when/expression").and_then(Value::as_str) {
            at(e, Kind::Expression, expr, &["when", "expression"]);
        }
        for (key, spec) in stage
            .get("events")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (field, e) in strings(spec.get("payload")) {
                at(
                    e,
                    Kind::Expression,
                    expr,
                    &["events", key, "payload", &field],
                );
            }
        }
        for (gi, gate) in gates(stage) {
            let gi = gi.to_string();
            if let Some(e) = str_at(gate, "expression") {
                at(e, Kind::Expression, expr, &["gates", &gi, "expression"]);
            }
            for key in ["fail_message", "pass_message"] {
                if let Some(t) = str_at(gate, key) {
                    at(t, Kind::Template, msg, &["gates", &gi, key]);
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
                        expr,
                        &["gates", &gi, "checks", &ci, "expression"],
                    );
                }
                if let Some(t) = str_at(check, "fail_message") {
                    at(
                        t,
                        Kind::Template,
                        msg,
                        &["gates", &gi, "checks", &ci, "fail_message"],
                    );
                }
            }
            for (ri, t) in strings(gate.get("recovery_suggestions")) {
                at(
                    t,
                    Kind::Template,
                    msg,
                    &["gates", &gi, "recovery_suggestions", &ri],
                );
            }
        }
    }
    // The result mapping sees the whole run.
    let mut all = base;
    let mut lenient = false;
    for (id, _, _) in &nodes {
        all.extend(outputs_of(id));
        lenient |= unknown_upstream(id);
    }
    for (field, e) in strings(onex.get("result")) {
        let known = (!lenient).then_some(&all);
        check_expr(
            e,
            Kind::Expression,
            known,
            &ptr(&["onex", "result", &field]),
            f,
        );
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

#[derive(Clone, Copy)]
enum Kind {
    Expression,
    Template,
}

/// Checks that `src` parses and, when `known` is given, reads only those names.
fn check_expr(
    src: &str,
    kind: Kind,
    known: Option<&BTreeSet<String>>,
    pointer: &str,
    f: &mut Findings<'_>,
) {
    let vars = match kind {
        Kind::Expression => expr::expression_variables(src),
        Kind::Template => expr::template_variables(src),
    };
    match vars {
        Err(e) => f.error(
            "ONEX102",
            pointer,
            format!("does not parse: {e}"),
            "gate expressions use minijinja syntax: `parsed.service_name is matching('^[a-z_]+$')`",
        ),
        Ok(vars) => {
            let Some(known) = known else {
                return; // only the syntax is checked here
            };
            let unknown: Vec<&String> = vars
                .iter()
                .filter(|v| !known.contains(*v) && !expr::is_global(v))
                .collect();
            if !unknown.is_empty() {
                let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
                let offered: Vec<&str> = known.iter().map(String::as_str).collect();
                f.error(
                    "ONEX102",
                    pointer,
                    format!(
                        "reads unknown run-context field(s): {} (known here: {})",
                        names.join(", "),
                        offered.join(", ")
                    ),
                    "read only the base context and outputs of this stage's or upstream handlers",
                );
            }
        }
    }
}

/// ONEX103: every template a stage names (`params.templates`) exists in the template pack.
fn rule_103_templates(onex: &Value, engine: &dyn EngineKnowledge, f: &mut Findings<'_>) {
    for (si, stage) in stages(onex) {
        for (ti, t) in stage
            .pointer("/params/templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(name) = t.as_str()
                && !engine.has_template(name)
            {
                f.error(
                    "ONEX103",
                    &ptr(&[
                        "onex",
                        "stages",
                        &si.to_string(),
                        "params",
                        "templates",
                        &ti.to_string(),
                    ]),
                    format!("template '{name}' is not in the template pack"),
                    "name a template of the pack (`onex templates`), or add it with --templates DIR",
                );
            }
        }
    }
}

/// ONEX104: one `onex:` stage per graph node and none other; stage ids unique and not
/// `pipeline`; gate ids unique in the contract and distinct from stage ids.
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

/// Builds the IR from a document that validated without errors. An `Err` here means the
/// document was not validated first (a programming error is still reported, never a panic).
pub fn build(root: &Value, path: PathBuf) -> Result<ExecutableContract, String> {
    let onex = root.get("onex").ok_or("no `onex:` block")?;
    let wd = root
        .pointer("/workflow_coordination/workflow_definition")
        .ok_or("no workflow_coordination.workflow_definition")?;
    let meta = wd.get("workflow_metadata");
    let workflow_name = meta
        .and_then(|m| str_at(m, "workflow_name"))
        .unwrap_or_default()
        .to_owned();
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
        stages_ir.push(build_stage(id, depends_on.clone(), *si, s)?);
    }
    Ok(ExecutableContract {
        name: str_at(root, "name").unwrap_or_default().to_owned(),
        path,
        workflow_name,
        execution_mode,
        triggers: str_list(onex.get("triggers")),
        run_timeout,
        stages: stages_ir,
        result: onex
            .get("result")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        completed_event: onex
            .pointer("/events/completed")
            .and_then(Value::as_str)
            .unwrap_or("PipelineCompleted")
            .to_owned(),
        failed_event: onex
            .pointer("/events/failed")
            .and_then(Value::as_str)
            .unwrap_or("PipelineFailed")
            .to_owned(),
    })
}

fn build_stage(
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
            payload: spec
                .get("payload")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
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
        gates_ir.push(GateSpec {
            id: gid.to_owned(),
            name: str_at(g, "name").unwrap_or(gid).to_owned(),
            gate_type: match str_at(g, "type") {
                Some(t) if t.eq_ignore_ascii_case("warning") => GateType::Warning,
                _ => GateType::Blocking,
            },
            check,
            error_code: str_at(g, "error_code").unwrap_or("GATE_FAILED").to_owned(),
            pass_message: str_at(g, "pass_message").map(str::to_owned),
            recovery_suggestions: str_list(g.get("recovery_suggestions")),
            depends_on: str_list(g.get("depends_on")),
            parallel: g.get("parallel").and_then(Value::as_bool).unwrap_or(false),
            pointer: format!("{pointer}/gates/{gi}"),
        });
    }
    Ok(StageSpec {
        id: id.to_owned(),
        depends_on,
        prepare: str_at(s, "prepare").map(str::to_owned),
        handler: str_at(s, "handler").map(str::to_owned),
        params: s.get("params").cloned().unwrap_or(Value::Null),
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
        pointer,
    })
}

/// The IR of a pipeline contract from its validation report: every error of the report, or
/// the contract. One validation path serves start-up, reload and `onex validate`.
pub fn from_report(
    report: crate::contract::validate::FileReport,
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
    let not_pipeline = |message: &str| {
        vec![Diagnostic {
            code: "ONEX104".into(),
            severity: Severity::Error,
            message: message.into(),
            path: report.path.clone(),
            pos: Pos { line: 1, column: 1 },
            pointer: String::new(),
            help: "run a dialect X pipeline contract (an `onex:` block with stages)".into(),
        }]
    };
    let Some(doc) = &report.doc else {
        return Err(not_pipeline("the file holds no contract"));
    };
    if doc.value.get("onex").is_none() || is_catalog(&doc.value) {
        return Err(not_pipeline("not an executable pipeline contract"));
    }
    build(&doc.value, report.path.clone()).map_err(|m| not_pipeline(&m))
}
