//! node_compile_checker_effect: the interpreter probe and the compilation gates (G13, G14).

use crate::codegen::compile::{self as cg, GateOutcome, PythonEnv};
use crate::handlers::resources::{PYTHON, PythonRes};
use crate::prompt::{ParsedPrompt, naming};
use onex_engine::pipeline::{GateCtx, GateVerdict, StageCtx, StageError};
use serde_json::{Value, json};
use std::path::PathBuf;

/// A codegen gate outcome as the executor's verdict.
pub(crate) fn from_outcome(g: GateOutcome) -> GateVerdict {
    GateVerdict {
        status: Some(g.status),
        message: g.message,
        error_code: g.error_code,
        suggestions: (!g.recovery_suggestions.is_empty()).then_some(g.recovery_suggestions),
        skip_reason: g.skip_reason,
        details: g.details,
    }
}

/// `probe_python` (compilation, before CompilationStarted): which Python, which mypy, whether
/// omnibase_core is importable. Outputs `python`.
pub async fn probe_python(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let env = PythonEnv::probe(
        crate::request::GenerationSettings::of(ctx.run)
            .python
            .as_deref(),
    )
    .await;
    let out = json!({ "python": {
        "interpreter": env.interpreter,
        "version": env.version.map(|(a, b)| format!("{a}.{b}")),
        "mypy_available": env.mypy_version.is_some(),
        "mypy_version": env.mypy_version,
        "has_omnibase_core": env.has_omnibase_core,
        "omnibase_core_version": env.omnibase_core_version,
        "problem": env.problem,
    }});
    ctx.run.resources.insert(PYTHON, Box::new(PythonRes(env)));
    Ok(out)
}

fn env_and_dir(ctx: &GateCtx<'_>) -> Result<(PythonEnv, PathBuf), StageError> {
    let env = ctx
        .run
        .resources
        .with(PYTHON, |p: &mut PythonRes| p.0.clone())
        .ok_or_else(|| {
            StageError::Infra("the interpreter was not probed (no `prepare: probe_python`)".into())
        })?;
    let dir = ctx
        .run
        .get("written")
        .and_then(|w| w.get("node_directory")?.as_str().map(PathBuf::from))
        .ok_or_else(|| StageError::Infra("no written node directory in this run".into()))?;
    Ok((env, dir))
}

/// The gate's `timeout_ms` parameter (checked at validate time: an integer > 0).
fn timeout_param(ctx: &GateCtx<'_>) -> Option<std::time::Duration> {
    ctx.param("timeout_ms")
        .and_then(Value::as_u64)
        .map(std::time::Duration::from_millis)
}

/// G13 MyPy Type Checking.
pub async fn mypy_check(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let (env, dir) = env_and_dir(ctx)?;
    let mut opts = cg::CompileOptions::default();
    if let Some(t) = timeout_param(ctx) {
        opts.mypy_timeout = t;
    }
    Ok(from_outcome(cg::g13_mypy_with(&env, &dir, &opts).await))
}

/// G14 Import Test.
pub async fn import_test(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let (env, dir) = env_and_dir(ctx)?;
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    let class = naming::node_class(&parsed.node_name, parsed.node_type);
    // Suggestions name the release the template pack was generated from.
    let mut opts = cg::CompileOptions {
        omnibase_core_version: crate::handlers::resources::pack(ctx.run)?
            .symbols()
            .version
            .clone(),
        ..Default::default()
    };
    if let Some(t) = timeout_param(ctx) {
        opts.import_timeout = t;
    }
    Ok(from_outcome(
        cg::g14_import_with(&env, &dir, &class, &opts).await,
    ))
}
