//! Things a run holds across stages, released by the executor when the run ends.

use onex_engine::codegen::compile::PythonEnv;
use onex_engine::codegen::output::Staging;
use onex_engine::codegen::{RenderedNode, TemplatePack};
use onex_engine::pipeline::{RunResource, RunShared, StageError};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

pub const STAGING: &str = "staging";
pub const RENDERED: &str = "rendered";
pub const PYTHON: &str = "python";

/// The run's staging area: on failure it is removed (rolled back); after placement only the
/// empty staging directories go.
pub struct StagingRes(pub Staging);

impl RunResource for StagingRes {
    fn release(&mut self, _success: bool) -> bool {
        let report = self.0.cleanup();
        for p in &report.problems {
            tracing::warn!("staging cleanup: {p}");
        }
        report.removed_run_staging && !_success
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
    let Some(dir) = &run.services.templates_dir else {
        return Ok(PackRef::Builtin);
    };
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
