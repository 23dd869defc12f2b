//! What handlers see and return, and the registry they are found in.
//!
//! Handlers are plain async functions registered by name in one static table per package (the
//! engine's built-ins in `builtin/mod.rs`, a workflow package's in its `registry.rs`); a binary
//! joins the tables into one [`Handlers`] and contracts refer to handlers by name. A stage
//! handler does a stage's work and returns outputs that join the run context; a gate handler
//! decides a gate. The executor owns everything else: ordering, timeouts, retries, events,
//! records.

use crate::contract::executable::{EngineKnowledge, HandlerInfo, StageSpec};
use crate::pipeline::expr;
use crate::pipeline::run::RunRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stage handler: returns an object whose keys are the handler's declared outputs.
pub type StageFn = for<'a> fn(&'a StageCtx<'a>) -> BoxFuture<'a, Result<Value, StageError>>;
/// A gate handler.
pub type GateFn = for<'a> fn(&'a GateCtx<'a>) -> BoxFuture<'a, Result<GateVerdict, StageError>>;

/// The engine's view of the handler registry ([`Handlers`]; tests wrap one to inject faults).
pub trait HandlerRegistry: EngineKnowledge {
    fn stage(&self, name: &str) -> Option<StageFn>;
    fn gate(&self, name: &str) -> Option<GateFn>;
    fn info(&self, name: &str) -> Option<HandlerInfo>;
}

/// One registered handler: its name, what validation and `onex handlers` know of it, and its
/// function(s). A handler may serve as a stage handler, a gate handler or both (`command`).
#[derive(Debug)]
pub struct HandlerEntry {
    pub name: &'static str,
    pub info: HandlerInfo,
    pub stage: Option<StageFn>,
    pub gate: Option<GateFn>,
}

/// The handlers of a process: the tables of the packages it links, joined.
#[derive(Debug, Clone, Default)]
pub struct Handlers {
    entries: Vec<&'static HandlerEntry>,
    by_name: HashMap<&'static str, usize>,
}

/// Two packages register one handler name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("handler '{0}' is registered twice")]
pub struct DuplicateHandler(pub String);

impl Handlers {
    /// The engine's built-in handlers (`command`, `emit`).
    pub fn builtin() -> Handlers {
        let mut h = Handlers::default();
        // The built-in table has unique names (a unit test of builtin checks it).
        let _ = h.add(crate::builtin::HANDLERS);
        h
    }

    /// Adds a package's table. A name already registered is refused, whole table unchanged.
    pub fn add(&mut self, table: &'static [HandlerEntry]) -> Result<(), DuplicateHandler> {
        let mut seen = std::collections::HashSet::new();
        if let Some(e) = table
            .iter()
            .find(|e| self.by_name.contains_key(e.name) || !seen.insert(e.name))
        {
            return Err(DuplicateHandler(e.name.to_owned()));
        }
        for e in table {
            self.by_name.insert(e.name, self.entries.len());
            self.entries.push(e);
        }
        Ok(())
    }

    /// [`Handlers::add`], chained.
    pub fn with(mut self, table: &'static [HandlerEntry]) -> Result<Self, DuplicateHandler> {
        self.add(table)?;
        Ok(self)
    }

    /// Every handler, in registration order.
    pub fn entries(&self) -> impl Iterator<Item = &'static HandlerEntry> + '_ {
        self.entries.iter().copied()
    }

    fn entry(&self, name: &str) -> Option<&'static HandlerEntry> {
        self.by_name.get(name).map(|&i| self.entries[i])
    }
}

impl EngineKnowledge for Handlers {
    fn handler(&self, name: &str) -> Option<HandlerInfo> {
        self.entry(name).map(|e| e.info)
    }
}

impl HandlerRegistry for Handlers {
    fn stage(&self, name: &str) -> Option<StageFn> {
        self.entry(name)?.stage
    }
    fn gate(&self, name: &str) -> Option<GateFn> {
        self.entry(name)?.gate
    }
    fn info(&self, name: &str) -> Option<HandlerInfo> {
        self.entry(name).map(|e| e.info)
    }
}

/// Why a stage's work did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StageError {
    /// A domain failure (bad prompt, render error, existing output …): final, never retried.
    #[error("{}: {}", .0.code, .0.message)]
    Failed(Box<Failed>),
    /// An infrastructure problem (I/O, a tool that crashed): retried when the stage allows.
    #[error("{0}")]
    Infra(String),
}

/// A domain failure's particulars.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub code: String,
    pub message: String,
    pub suggestions: Vec<String>,
    pub context: Value,
    /// Extra fields for the stage's failure event (`failed_file`, …).
    pub details: Value,
}

impl StageError {
    pub fn failed(code: impl Into<String>, message: impl Into<String>) -> Self {
        StageError::Failed(Box::new(Failed {
            code: code.into(),
            message: message.into(),
            suggestions: Vec::new(),
            context: Value::Null,
            details: Value::Null,
        }))
    }

    pub fn with_suggestions(mut self, s: Vec<String>) -> Self {
        if let StageError::Failed(f) = &mut self {
            f.suggestions = s;
        }
        self
    }

    pub fn with_details(mut self, d: Value) -> Self {
        if let StageError::Failed(f) = &mut self {
            f.details = d;
        }
        self
    }
}

/// Outcome of one gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Pass,
    Warning,
    Fail,
    Skipped,
}

/// A gate handler's decision. `error_code` / `suggestions` override the contract's defaults
/// (one gate may have several failure codes, e.g. G6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GateVerdict {
    pub status: Option<GateStatus>,
    pub message: String,
    pub error_code: Option<String>,
    pub suggestions: Option<Vec<String>>,
    pub skip_reason: Option<String>,
    pub details: Value,
}

impl GateVerdict {
    pub fn pass(message: impl Into<String>) -> Self {
        GateVerdict {
            status: Some(GateStatus::Pass),
            message: message.into(),
            ..Default::default()
        }
    }
    pub fn fail(message: impl Into<String>) -> Self {
        GateVerdict {
            status: Some(GateStatus::Fail),
            message: message.into(),
            ..Default::default()
        }
    }
    pub fn warning(message: impl Into<String>) -> Self {
        GateVerdict {
            status: Some(GateStatus::Warning),
            message: message.into(),
            ..Default::default()
        }
    }
    pub fn skipped(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        GateVerdict {
            status: Some(GateStatus::Skipped),
            message: reason.clone(),
            skip_reason: Some(reason),
            ..Default::default()
        }
    }
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.error_code = Some(code.into());
        self
    }
    pub fn suggest(mut self, s: Vec<String>) -> Self {
        self.suggestions = Some(s);
        self
    }
    pub fn details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }
}

/// Settings handlers read, passed through by the executor untouched: a few the engine itself
/// knows (where runs may write, durability) and any a workflow package adds by type.
#[derive(Clone, Default)]
pub struct Services {
    /// Roots output may be written under. Empty = only where the trigger asks, as given.
    pub allowed_roots: Vec<PathBuf>,
    /// fsync written files and directories (off only for benchmarks and tests on tmpfs).
    pub fsync: bool,
    /// Keep a failed run's resources (staging directories …) for debugging.
    pub keep_failed: bool,
    /// A package's own settings, one value per type.
    extensions: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("allowed_roots", &self.allowed_roots)
            .field("fsync", &self.fsync)
            .field("keep_failed", &self.keep_failed)
            .field("extensions", &self.extensions.len())
            .finish()
    }
}

impl Services {
    /// Adds (or replaces) a package's settings.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.extensions.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// [`Services::insert`], chained.
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.insert(value);
        self
    }

    /// A package's settings, if given.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.extensions
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }
}

/// Something a run holds across stages (a staging directory …), released when the run ends,
/// before its terminal event: `success = false` rolls back and reports whether it did.
pub trait RunResource: Any + Send {
    fn release(&mut self, success: bool) -> bool;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// The resources of one run, by name.
#[derive(Default)]
pub struct Resources {
    items: Mutex<Vec<(String, Box<dyn RunResource>)>>,
}

impl Resources {
    pub fn insert(&self, name: &str, r: Box<dyn RunResource>) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.retain(|(n, _)| n != name);
        items.push((name.to_owned(), r));
    }

    /// Runs `f` on the resource `name` of type `T`, if present.
    pub fn with<T: RunResource, R>(&self, name: &str, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let (_, r) = items.iter_mut().find(|(n, _)| n == name)?;
        r.as_any_mut().downcast_mut::<T>().map(f)
    }

    /// Releases everything, last acquired first. Returns whether anything was rolled back.
    pub fn release_all(&self, success: bool) -> bool {
        let mut items = std::mem::take(&mut *self.items.lock().unwrap_or_else(|p| p.into_inner()));
        let mut rolled_back = false;
        while let Some((_, mut r)) = items.pop() {
            rolled_back |= r.release(success);
        }
        rolled_back
    }
}

/// Shared state of a run, visible to every handler.
pub struct RunShared {
    pub request: RunRequest,
    pub services: Arc<Services>,
    pub resources: Resources,
    context: Mutex<Context>,
}

/// The finished stages as the expressions see them: one entry converted per stage, added when
/// the stage ends, so a run of N stages converts N entries instead of the whole map N times.
#[derive(Debug, Default)]
struct StagesView(Mutex<BTreeMap<String, minijinja::Value>>);

impl minijinja::value::Object for StagesView {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<minijinja::Value> = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .map(|k| minijinja::Value::from(k.as_str()))
            .collect();
        minijinja::value::Enumerator::Iter(Box::new(keys.into_iter()))
    }
}

/// The run context as JSON (handlers read it) and, entry by entry, as already-converted
/// expression values (the executor evaluates many expressions per stage).
struct Context {
    json: Map<String, Value>,
    /// Shared with the scopes built from it (copied on write only while one is alive), so an
    /// evaluation does not copy every entry of a context that grows by one entry per stage.
    converted: Arc<BTreeMap<String, minijinja::Value>>,
    stages: Arc<StagesView>,
}

/// An evaluation scope: the few per-evaluation entries (`stage`, `details`) over the run
/// context's converted entries.
#[derive(Debug)]
struct LayeredScope {
    extra: Vec<(String, minijinja::Value)>,
    base: Arc<BTreeMap<String, minijinja::Value>>,
}

impl minijinja::value::Object for LayeredScope {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let key = key.as_str()?;
        match self.extra.iter().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.base.get(key).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<minijinja::Value> = self
            .base
            .keys()
            .filter(|k| !self.extra.iter().any(|(e, _)| e == *k))
            .map(|k| minijinja::Value::from(k.as_str()))
            .chain(
                self.extra
                    .iter()
                    .map(|(k, _)| minijinja::Value::from(k.as_str())),
            )
            .collect();
        minijinja::value::Enumerator::Iter(Box::new(keys.into_iter()))
    }
}

/// The context key of finished stages.
const STAGES: &str = "stages";

impl Context {
    fn insert(&mut self, key: &str, v: Value) {
        if key == STAGES {
            return; // kept by `set_stage`, entry by entry
        }
        Arc::make_mut(&mut self.converted).insert(key.to_owned(), expr::to_value(&v));
        self.json.insert(key.to_owned(), v);
    }
}

impl RunShared {
    pub fn new(request: RunRequest, services: Arc<Services>, context: Map<String, Value>) -> Self {
        let stages = Arc::new(StagesView::default());
        let mut converted: BTreeMap<String, minijinja::Value> = context
            .iter()
            .filter(|(k, _)| k.as_str() != STAGES)
            .map(|(k, v)| (k.clone(), expr::to_value(v)))
            .collect();
        converted.insert(
            STAGES.into(),
            minijinja::Value::from_dyn_object(stages.clone()),
        );
        let mut json = context;
        json.insert(STAGES.into(), Value::Object(Map::new()));
        RunShared {
            request,
            services,
            resources: Resources::default(),
            context: Mutex::new(Context {
                json,
                converted: Arc::new(converted),
                stages,
            }),
        }
    }

    fn ctx(&self) -> std::sync::MutexGuard<'_, Context> {
        self.context.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The trigger event's payload.
    pub fn trigger(&self) -> &Value {
        &self.request.trigger.payload
    }

    /// A run-context value (cloned).
    pub fn get(&self, key: &str) -> Option<Value> {
        self.ctx().json.get(key).cloned()
    }

    /// Deserialises a run-context value.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, StageError> {
        let v = self
            .get(key)
            .ok_or_else(|| StageError::Infra(format!("run context has no '{key}'")))?;
        serde_json::from_value(v)
            .map_err(|e| StageError::Infra(format!("run context '{key}' malformed: {e}")))
    }

    pub(crate) fn set(&self, key: &str, v: Value) {
        self.ctx().insert(key, v);
    }

    /// Records a finished stage under `stages.<id>`.
    pub(crate) fn set_stage(&self, id: &str, record: Value) {
        let mut ctx = self.ctx();
        ctx.stages
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), expr::to_value(&record));
        if let Some(Value::Object(m)) = ctx.json.get_mut(STAGES) {
            m.insert(id.to_owned(), record);
        }
    }

    pub fn snapshot(&self) -> Map<String, Value> {
        self.ctx().json.clone()
    }

    /// An evaluation scope: the context plus `extra` entries (converted here).
    pub fn scope(&self, extra: &[(&str, &Value)]) -> expr::Scope {
        let base = self.ctx().converted.clone();
        let extra = extra
            .iter()
            .map(|(k, v)| (k.to_string(), expr::to_value(v)))
            .collect();
        expr::Scope::from_value(minijinja::Value::from_object(LayeredScope { extra, base }))
    }
}

/// What a stage handler gets.
pub struct StageCtx<'a> {
    pub run: &'a RunShared,
    pub stage: &'a StageSpec,
    pub attempt: u32,
    pub(crate) progress: mpsc::UnboundedSender<Value>,
    pub(crate) events: &'a dyn EmitEvent,
}

/// How a handler publishes an event of its run (the built-in `emit`): numbered, stamped and
/// checked against the catalogue like every other event of the run.
pub(crate) trait EmitEvent: Send + Sync {
    fn emit_event<'a>(
        &'a self,
        stage: &'a StageSpec,
        event_type: &'a str,
        status: crate::events::EventStatus,
        payload: Value,
    ) -> BoxFuture<'a, Result<(), crate::pipeline::run::EmitError>>;
}

impl StageCtx<'_> {
    /// Reports a progress step; the stage's `events.progress` turns it into an event, with
    /// this value readable as `stage.progress`.
    pub fn progress(&self, step: Value) {
        // The receiver lives as long as the stage; a closed channel means the stage was
        // cancelled, and the step no longer matters.
        let _ = self.progress.send(step);
    }

    /// The stage's `params` from the contract.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.stage.params.get(key)
    }

    /// Publishes an event of this run from this stage; fails when the catalogue rejects it
    /// or the bus does.
    pub async fn emit(
        &self,
        event_type: &str,
        status: crate::events::EventStatus,
        payload: Value,
    ) -> Result<(), StageError> {
        use crate::pipeline::run::EmitError;
        match self
            .events
            .emit_event(self.stage, event_type, status, payload)
            .await
        {
            Ok(()) => Ok(()),
            Err(e @ EmitError::Invalid { .. }) => {
                Err(StageError::failed("EMIT_FAILED", e.to_string()))
            }
            // The bus did not take it: an infrastructure problem, retried where the stage allows.
            Err(e @ EmitError::Sink(_)) => Err(StageError::Infra(e.to_string())),
        }
    }

    /// The evaluation scope of this stage's expressions (the run context and `stage`).
    pub fn scope(&self) -> expr::Scope {
        let vars = serde_json::json!({"id": self.stage.id, "attempts": self.attempt});
        self.run.scope(&[("stage", &vars)])
    }
}

/// What a gate handler gets.
pub struct GateCtx<'a> {
    pub run: &'a RunShared,
    pub stage: &'a StageSpec,
    pub gate: &'a crate::contract::executable::GateSpec,
}

impl GateCtx<'_> {
    /// The gate's `params` from the contract.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.gate.params.get(key)
    }

    /// The evaluation scope of this gate's expressions (the run context and `stage`).
    pub fn scope(&self) -> expr::Scope {
        let vars = serde_json::json!({"id": self.stage.id});
        self.run.scope(&[("stage", &vars)])
    }
}
