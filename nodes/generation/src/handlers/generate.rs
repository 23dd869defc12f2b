//! node_code_generator_effect: render the node's files into the run's staging directory.

use crate::codegen::output::{OutputError, Staging, StagingOptions};
use crate::codegen::{RenderInput, render};
use crate::handlers::resources::{self, RENDERED, RenderedRes, STAGING, StagingRes};
use crate::handlers::validate::output_plan;
use crate::prompt::ParsedPrompt;
use onex_engine::pipeline::{StageCtx, StageError};
use serde_json::{Map, Value, json};

pub(crate) fn output_error(e: OutputError) -> StageError {
    StageError::failed(e.code.as_str(), e.message.clone())
        .with_suggestions(vec![e.suggestion().into()])
        .with_details(json!({
            "failed_file": e.failed_file,
            "rollback_performed": e.rollback_performed,
        }))
}

/// `render_node` (stage generation): renders the files (one GenerationProgress each) and
/// stages them under `<out>/.onex-staging/<correlation_id>/`. Outputs `generated`.
pub async fn render_node(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let parsed: ParsedPrompt = ctx.run.get_as("parsed")?;
    let pack = resources::pack(ctx.run)?;
    let plan = output_plan(ctx.run)?;
    let started_at = ctx
        .run
        .get("run")
        .and_then(|r| {
            r.get("started_at")?
                .as_str()?
                .parse::<jiff::Timestamp>()
                .ok()
        })
        .unwrap_or_else(jiff::Timestamp::now);
    let input = RenderInput {
        parsed: &parsed,
        correlation_id: ctx.run.request.correlation_id,
        run_started_at: started_at,
        engine_version: onex_engine::ENGINE_VERSION,
    };
    let total = render::planned_files(&parsed).len();
    let mut done = 0usize;
    let node = render::render_node(&input, &pack, &mut |f| {
        done += 1;
        ctx.progress(
            json!({"current_file": f.rel_path, "files_completed": done, "total_files": total}),
        );
    })
    .map_err(|e| {
        StageError::failed(e.code.as_str(), e.message.clone())
            .with_details(json!({ "failed_file": e.failed_file }))
    })?;

    // A retried attempt starts from a clean staging dir of its own.
    ctx.run
        .resources
        .with(STAGING, |s: &mut StagingRes| s.staging.cleanup());
    let mut staging = Staging::create(
        &plan,
        StagingOptions {
            // The writing stage fsyncs, once the files have passed post-validation.
            fsync: false,
            keep_failed: ctx.run.services.keep_failed,
            ..Default::default()
        },
    )
    .map_err(output_error)?;
    for f in &node.files {
        staging
            .write_file(&f.rel_path, &f.bytes)
            .map_err(output_error)?;
    }
    let files: Vec<&str> = node.files.iter().map(|f| f.rel_path.as_str()).collect();
    let sha256: Map<String, Value> = node
        .files
        .iter()
        .map(|f| (f.rel_path.clone(), json!(f.sha256)))
        .collect();
    let total_bytes: usize = node.files.iter().map(|f| f.bytes.len()).sum();
    let out = json!({ "generated": {
        "dir_name": node.dir_name,
        "files": files,
        "sha256": sha256,
        "total_bytes": total_bytes,
        "staging_dir": staging.staged_node_dir(),
        "template_pack": pack.name(),
    }});
    ctx.run
        .resources
        .insert(STAGING, Box::new(StagingRes::new(staging)));
    ctx.run
        .resources
        .insert(RENDERED, Box::new(RenderedRes(node)));
    Ok(out)
}
