//! node_node_writer_effect: make the staged files durable and move the node into place.

use crate::codegen::output::{WriteProgress, manifest_correlation_id};
use crate::handlers::generate::output_error;
use crate::handlers::resources::{RENDERED, RenderedRes, STAGING, StagingRes};
use crate::handlers::validate::output_plan;
use onex_engine::pipeline::{StageCtx, StageError};
use serde_json::{Value, json};

/// `write_node` (stage writing): fsyncs each staged file (one WritingProgress each) and the
/// directories, then renames the node directory into place without replacing (or, with force,
/// swapping the old one out). A node directory this run already placed before a crash is
/// accepted as it is. Outputs `written`.
pub async fn write_node(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let plan = output_plan(ctx.run)?;
    let (files, total_bytes) = ctx
        .run
        .resources
        .with(RENDERED, |r: &mut RenderedRes| {
            let files: Vec<String> = r.0.files.iter().map(|f| f.rel_path.clone()).collect();
            let bytes: usize = r.0.files.iter().map(|f| f.bytes.len()).sum();
            (files, bytes)
        })
        .ok_or_else(|| StageError::Infra("nothing was generated in this run".into()))?;
    let main_file = files
        .iter()
        .find(|f| f.ends_with("/node.py"))
        .cloned()
        .unwrap_or_default();
    let correlation_id = ctx.run.request.correlation_id;

    // Redelivery after a crash that came after the rename: the directory is ours (also with
    // --force: replacing it again would only rewrite what this run already wrote); keep it.
    if manifest_correlation_id(&plan.node_dir) == Some(correlation_id) {
        return Ok(json!({ "written": {
            "node_directory": plan.node_dir, "main_file": plan.node_dir.join(&main_file),
            "files": files, "total_bytes": total_bytes, "replaced_existing": false,
            "resumed": true,
        }}));
    }

    let fsync = ctx.run.services.fsync;
    let placed = ctx
        .run
        .resources
        .with(STAGING, |s: &mut StagingRes| -> Result<_, StageError> {
            let progress = |p: &WriteProgress<'_>| {
                ctx.progress(json!({"current_file": p.current_file,
                    "files_written": p.files_written, "total_files": p.total_files}));
            };
            if fsync {
                s.staging.sync_files(progress).map_err(output_error)?;
            } else {
                // Benchmarks on tmpfs: no durability asked for, progress all the same.
                let total = s.staging.files().len();
                for (i, f) in s.staging.files().iter().enumerate() {
                    progress(&WriteProgress {
                        current_file: &f.rel_path,
                        files_written: i + 1,
                        total_files: total,
                        bytes: f.bytes,
                    });
                }
            }
            let placed = s.staging.place().map_err(output_error)?;
            s.placed = Some(placed.clone());
            Ok(placed)
        })
        .ok_or_else(|| StageError::Infra("the run has no staging directory".into()))??;
    Ok(json!({ "written": {
        "node_directory": placed.node_dir,
        "main_file": placed.node_dir.join(&main_file),
        "files": placed.files,
        "total_bytes": placed.total_bytes,
        "replaced_existing": placed.replaced_existing,
        "resumed": false,
    }}))
}
