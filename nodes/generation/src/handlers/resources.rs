//! Things a run holds across stages, released by the executor when the run ends.

use crate::codegen::compile::PythonEnv;
use crate::codegen::output::{OutputPlan, Placed, Staging};
use crate::codegen::{RenderedNode, TemplatePack};
use onex_engine::pipeline::{RunResource, RunShared, StageError};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

pub const STAGING: &str = "staging";
pub const RENDERED: &str = "rendered";
pub const PYTHON: &str = "python";
pub const PLAN: &str = "plan";

/// The run's staging area, and the node directory once placed. When the run fails, staging is
/// removed; so is a node directory this run placed itself (a stage after writing failed), which
/// leaves `<out>` as it was. A directory that replaced an existing one (`--force`) stays: the
/// old one is gone by then, and the new one is complete.
pub struct StagingRes {
    pub staging: Staging,
    pub placed: Option<Placed>,
}

impl StagingRes {
    pub fn new(staging: Staging) -> Self {
        StagingRes {
            staging,
            placed: None,
        }
    }

    /// Takes the placed directory back out of `<out>` (into the run's staging, then gone).
    fn unplace(&mut self, placed: &Placed) -> bool {
        match self.staging.unplace() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(path = %placed.node_dir.display(), "rolling back the placed node directory: {e}");
                false
            }
        }
    }
}

impl RunResource for StagingRes {
    fn release(&mut self, success: bool) -> bool {
        let mut rolled_back = false;
        if !success
            && let Some(placed) = self.placed.take()
            && !placed.replaced_existing
        {
            rolled_back = self.unplace(&placed);
        }
        let report = self.staging.cleanup();
        for p in &report.problems {
            tracing::warn!("staging cleanup: {p}");
        }
        rolled_back || (report.removed_run_staging && !success)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The run's output plan (computed once, read by G6, generation and writing).
pub struct PlanRes(pub OutputPlan);

impl RunResource for PlanRes {
    fn release(&mut self, _: bool) -> bool {
        false
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The rendered files (post-validation reads them; the same bytes are in staging).
pub struct RenderedRes(pub RenderedNode);

impl RunResource for RenderedRes {
    fn release(&mut self, _: bool) -> bool {
        false
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The probed interpreter (compilation gates).
pub struct PythonRes(pub PythonEnv);

impl RunResource for PythonRes {
    fn release(&mut self, _: bool) -> bool {
        false
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

static PACKS: LazyLock<Mutex<HashMap<PathBuf, Arc<TemplatePack>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The run's template pack: `--templates DIR` (loaded once per process) or the built-in one.
pub fn pack(run: &RunShared) -> Result<PackRef, StageError> {
    let Some(dir) = crate::request::GenerationSettings::of(run).templates_dir else {
        return Ok(PackRef::Builtin);
    };
    let dir = &dir;
    let mut packs = PACKS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = packs.get(dir) {
        return Ok(PackRef::Loaded(p.clone()));
    }
    let pack = TemplatePack::from_dir(dir).map_err(|e| {
        StageError::failed("TEMPLATE_NOT_FOUND", e.to_string())
            .with_suggestions(vec!["Check --templates".into()])
    })?;
    let pack = Arc::new(pack);
    packs.insert(dir.clone(), pack.clone());
    Ok(PackRef::Loaded(pack))
}

pub enum PackRef {
    Builtin,
    Loaded(Arc<TemplatePack>),
}

impl std::ops::Deref for PackRef {
    type Target = TemplatePack;
    fn deref(&self) -> &TemplatePack {
        match self {
            PackRef::Builtin => TemplatePack::builtin(),
            PackRef::Loaded(p) => p,
        }
    }
}
