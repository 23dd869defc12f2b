//! What handlers see and return.
//!
//! Handlers are plain async functions registered by name (nodes/handlers/src/registry.rs);
//! contracts refer to them by name. A stage handler does a stage's work and returns outputs that
//! join the run context; a gate handler decides a gate. The executor owns everything else:
//! ordering, timeouts, retries, events, records.

use crate::contract::executable::{HandlerInfo, StageSpec};
use crate::pipeline::expr;
use crate::pipeline::run::RunRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::any::Any;
use std::collections::BTreeMap;
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

/// The engine's view of the handler registry.
pub trait HandlerRegistry: Send + Sync {
    fn stage(&self, name: &str) -> Option<StageFn>;
    fn gate(&self, name: &str) -> Option<GateFn>;
    fn info(&self, name: &str) -> Option<HandlerInfo>;
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

/// Settings handlers read (where output may go, which Python to use …). The executor passes
/// them through untouched.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// Roots output may be written under (G6). Empty = the request's output directory itself.
    pub allowed_roots: Vec<PathBuf>,
    /// `--templates DIR`; `None` = the built-in pack.
    pub templates_dir: Option<PathBuf>,
    /// Interpreter for G4's probe, G13 and G14 (`$ONEX_PYTHON`, default `python3`).
    pub python: Option<PathBuf>,
    /// Whether G4 also runs a live import probe (`gates.G4 = "probe"` or `$ONEX_PYTHON` set).
    pub probe_imports: bool,
    /// fsync written files and directories (off only for benchmarks on tmpfs).
    pub fsync: bool,
    /// Keep a failed run's staging directory (debugging).
    pub keep_failed: bool,
    /// Free settings by name for handlers added later.
    pub extra: BTreeMap<String, String>,
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

/// The run context as JSON (handlers read it) and, entry by entry, as already-converted
/// expression values (the executor evaluates many expressions per stage).
struct Context {
    json: Map<String, Value>,
    converted: BTreeMap<String, minijinja::Value>,
}

impl Context {
    fn insert(&mut self, key: &str, v: Value) {
        self.converted.insert(key.to_owned(), expr::to_value(&v));
        self.json.insert(key.to_owned(), v);
    }
}

impl RunShared {
    pub fn new(request: RunRequest, services: Arc<Services>, context: Map<String, Value>) -> Self {
        let converted = context
            .iter()
            .map(|(k, v)| (k.clone(), expr::to_value(v)))
            .collect();
        RunShared {
            request,
            services,
            resources: Resources::default(),
            context: Mutex::new(Context {
                json: context,
                converted,
            }),
        }
    }

    fn ctx(&self) -> std::sync::MutexGuard<'_, Context> {
        self.context.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Changes the context entry `key` (an object, created when absent).
    pub(crate) fn update(&self, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        let mut ctx = self.ctx();
        let mut v = ctx
            .json
            .remove(key)
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let Value::Object(m) = &mut v {
            f(m);
        }
        ctx.insert(key, v);
    }

    pub fn snapshot(&self) -> Map<String, Value> {
        self.ctx().json.clone()
    }

    /// An evaluation scope: the context plus `extra` entries (converted here).
    pub fn scope(&self, extra: &[(&str, &Value)]) -> expr::Scope {
        let ctx = self.ctx();
        let converted: Vec<(String, minijinja::Value)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), expr::to_value(v)))
            .collect();
        expr::Scope::from_entries(
            ctx.converted
                .iter()
                .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
                .map(|(k, v)| (k.as_str(), v.clone()))
                .chain(converted.iter().map(|(k, v)| (k.as_str(), v.clone())))
                .collect::<Vec<_>>(),
        )
    }
}

/// What a stage handler gets.
pub struct StageCtx<'a> {
    pub run: &'a RunShared,
    pub stage: &'a StageSpec,
    pub attempt: u32,
    pub(crate) progress: mpsc::UnboundedSender<Value>,
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
}

/// What a gate handler gets.
pub struct GateCtx<'a> {
    pub run: &'a RunShared,
    pub stage: &'a StageSpec,
    pub gate: &'a crate::contract::executable::GateSpec,
}
