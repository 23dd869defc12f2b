//! node_validator_compute: output planning and the checking gates (G4–G6, G9–G12).

use crate::codegen::output::{self, OutputPlan};
use crate::codegen::{self, RenderedFile, render};
use crate::handlers::resources::{self, PLAN, PlanRes, RENDERED, RenderedRes};
use crate::prompt::{ParsedPrompt, naming};
use crate::request::PromptRequest;
use onex_engine::contract::validate::{ValidateOptions, validate_str};
use onex_engine::diag::Severity;
use onex_engine::pipeline::{GateCtx, GateStatus, GateVerdict, RunShared, StageCtx, StageError};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Where the run may write: the configured roots, else the requested directory itself (an
/// explicit `-o` is allowed as given, docs/generation.md §5.4).
fn allowed_roots(run: &RunShared, req: &PromptRequest) -> Vec<PathBuf> {
    if run.services.allowed_roots.is_empty() {
        vec![req.output_directory.clone()]
    } else {
        run.services.allowed_roots.clone()
    }
}

/// Where this run's node goes: computed once per run (by `plan_output`, or by the first handler
/// that needs it when an edited contract has no such stage) and kept with the run.
pub(crate) fn output_plan(run: &RunShared) -> Result<OutputPlan, StageError> {
    if let Some(plan) = run.resources.with(PLAN, |p: &mut PlanRes| p.0.clone()) {
        return Ok(plan);
    }
    let parsed: ParsedPrompt = run.get_as("parsed")?;
    let req = PromptRequest::of(run)?;
    let dir_name = naming::node_dir_name(&parsed.domain, &parsed.service_name, parsed.node_type);
    let plan = output::plan(
        &req.output_directory,
        &dir_name,
        run.request.correlation_id,
        req.force,
        &allowed_roots(run, &req),
    )
    .map_err(|e| {
        StageError::failed(e.code.as_str(), e.message.clone())
            .with_suggestions(vec![e.suggestion().into()])
    })?;
    run.resources.insert(PLAN, Box::new(PlanRes(plan.clone())));
    Ok(plan)
}

/// `plan_output` (stage pre_validation): where the node will be staged and written.
pub async fn plan_output(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let plan = output_plan(ctx.run)?;
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    let pack = resources::pack(ctx.run)?;
    Ok(json!({ "plan": {
        "output_directory": plan.out_dir,
        "node_dir_name": plan.node_dir_name,
        "node_directory": plan.node_dir,
        "staging_dir": plan.run_staging,
        "staged_node_dir": plan.staged_node_dir,
        "total_files": render::planned_files(&parsed).len(),
        "template_pack": pack.name(),
        "replace_existing": plan.force && plan.node_dir.exists(),
    }}))
}

fn verdict(v: codegen::GateVerdict) -> GateVerdict {
    GateVerdict {
        status: Some(v.status),
        message: v.message,
        details: v.details,
        ..Default::default()
    }
}

/// G4 Critical Imports Exist: the pack imports only symbols its omnibase-core table lists. With
/// a live probe configured (`gates.G4 = "probe"` or `$ONEX_PYTHON`), the interpreter also
/// imports them (15 s): a Python older than 3.12 or without omnibase_core is a warning only.
pub async fn imports_known(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    let pack = resources::pack(ctx.run)?;
    let version = pack.symbols().version.clone();
    let settings = crate::request::GenerationSettings::of(ctx.run);
    let mut v = if settings.probe_imports {
        let py = settings
            .python
            .clone()
            .unwrap_or_else(|| PathBuf::from("python3"));
        let stdout = match codegen::pack_omnibase_imports(&pack, parsed.node_type) {
            Ok(symbols) => probe(&py, &codegen::g4_probe_script(&symbols)).await,
            Err(e) => e,
        };
        let v = verdict(codegen::g4_probe_verdict(
            &pack,
            parsed.node_type,
            &stdout,
            &py.display().to_string(),
        ));
        if v.status == Some(GateStatus::Warning) {
            let s = format!(
                "Install omnibase-core {version} into a Python ≥ 3.12 ({}) to run the generated node",
                py.display()
            );
            v.suggest(vec![s])
        } else {
            v
        }
    } else {
        verdict(codegen::g4_imports_known(&pack, parsed.node_type))
    };
    // The suggestion templates name the pinned release.
    if let Value::Object(d) = &mut v.details {
        d.insert("version".into(), json!(version));
    } else {
        v.details = json!({ "version": version, "detail": v.details });
    }
    Ok(v)
}

/// Runs the G4 probe script; its stdout, or what went wrong (the verdict then warns).
async fn probe(py: &Path, script: &str) -> String {
    let run = tokio::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(std::time::Duration::from_secs(15), run).await {
        Ok(Ok(out)) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(Err(e)) => format!("{} did not run: {e}", py.display()),
        Err(_) => format!("{} did not answer within 15 s", py.display()),
    }
}

/// G5 Templates Available.
pub async fn templates_available(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    let pack = resources::pack(ctx.run)?;
    Ok(verdict(codegen::g5_templates(&pack, parsed.node_type)))
}

/// G6 Output Directory Writable.
pub async fn output_writable(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let plan = match output_plan(ctx.run) {
        Ok(p) => p,
        Err(StageError::Failed(f)) => {
            return Ok(GateVerdict::fail(f.message).code(f.code));
        }
        Err(e) => return Err(e),
    };
    Ok(crate::handlers::compile::from_outcome(
        output::g6_check(&plan).gate,
    ))
}

fn rendered_files(ctx: &GateCtx<'_>) -> Result<Vec<RenderedFile>, StageError> {
    ctx.run
        .resources
        .with(RENDERED, |r: &mut RenderedRes| r.0.files.clone())
        .ok_or_else(|| StageError::Infra("no rendered files in this run".into()))
}

/// The `onex validate` loader and rules over one staged YAML file (its real path, so the
/// manifest's references resolve against the staged files): every finding that is not info,
/// as `line:col: CODE message`.
fn yaml_findings(staged: &Path, rel_path: &str, bytes: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec!["1:1: ONEX001 not UTF-8".into()];
    };
    let report = validate_str(
        &staged.join(rel_path),
        text,
        &ValidateOptions::default(),
        // A generated node's contract is not an executable workflow: no handlers to know.
        None,
    );
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| format!("{}:{}: {} {}", d.pos.line, d.pos.column, d.code, d.message))
        .collect()
}

/// G9 Syntax Valid.
pub async fn syntax_valid(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let files = rendered_files(ctx)?;
    let staged: PathBuf = ctx
        .run
        .get("generated")
        .and_then(|g| g.get("staging_dir")?.as_str().map(PathBuf::from))
        .ok_or_else(|| StageError::Infra("no staging directory in this run".into()))?;
    let check = |rel: &str, bytes: &[u8]| yaml_findings(&staged, rel, bytes);
    Ok(verdict(codegen::g9_syntax(&files, &check)))
}

/// G10 ONEX Naming Convention.
pub async fn naming_convention(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let files = rendered_files(ctx)?;
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    Ok(verdict(codegen::g10_naming(&files, &parsed)))
}

/// G11 Import Resolution.
pub async fn imports_resolve(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let files = rendered_files(ctx)?;
    let pack = resources::pack(ctx.run)?;
    Ok(verdict(codegen::g11_imports(&files, &pack)))
}

/// G12 Pydantic Model Structure.
pub async fn model_structure(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let files = rendered_files(ctx)?;
    Ok(verdict(codegen::g12_models(&files)))
}
