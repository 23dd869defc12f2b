//! A failure injected in each of stages 1–5, after the real handler did its work (staging
//! created, files rendered, the node directory placed …), leaves the output directory exactly
//! as it was: rollback is the run's job, whatever stage fails.

mod common;

use common::*;
use onex_engine::contract::executable::{EngineKnowledge, HandlerInfo};
use onex_engine::pipeline::{
    GateCtx, GateFn, GateVerdict, HandlerRegistry, Handlers, StageCtx, StageError, StageFn,
};
use serde_json::Value;
use std::sync::{Arc, LazyLock};

static REAL: LazyLock<Handlers> = LazyLock::new(handlers);

/// The real registry, except that the handlers of one stage fail after doing their work.
struct Inject(&'static str);

async fn stage_then_fail(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let name = ctx
        .stage
        .handler
        .as_deref()
        .expect("wrapped stages have a handler");
    let real = REAL.stage(name).expect("registered");
    real(ctx).await?;
    // INTERNAL_ERROR: a code every stage's failure event admits.
    Err(StageError::failed(
        "INTERNAL_ERROR",
        format!("injected after {name}"),
    ))
}

async fn gate_then_fail(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    if let onex_engine::contract::executable::GateCheck::Handler(name) = &ctx.gate.check {
        let real = REAL.gate(name).expect("registered");
        real(ctx).await?;
    }
    Ok(GateVerdict::fail("injected").code("INTERNAL_ERROR"))
}

impl EngineKnowledge for Inject {
    fn handler(&self, name: &str) -> Option<HandlerInfo> {
        REAL.info(name)
    }
}

impl HandlerRegistry for Inject {
    fn stage(&self, name: &str) -> Option<StageFn> {
        let wrapped = shipped()
            .contract
            .stage(self.0)
            .and_then(|s| s.handler.as_deref())
            == Some(name);
        if wrapped {
            Some(|c| Box::pin(stage_then_fail(c)))
        } else {
            REAL.stage(name)
        }
    }
    fn gate(&self, name: &str) -> Option<GateFn> {
        // post_validation has no stage handler: its last gate fails after running.
        if self.0 == "post_validation" && name == "model_structure" {
            Some(|c| Box::pin(gate_then_fail(c)))
        } else {
            REAL.gate(name)
        }
    }
    fn info(&self, name: &str) -> Option<HandlerInfo> {
        REAL.info(name)
    }
}

async fn check_stage(stage: &'static str, out_exists: bool) {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out/deeper");
    if out_exists {
        std::fs::create_dir_all(out.join("node_other_thing_effect/v1_0_0")).unwrap();
        std::fs::write(out.join("keep.txt"), b"the user's file").unwrap();
        std::fs::write(
            out.join("node_other_thing_effect/v1_0_0/node.py"),
            b"# theirs\n",
        )
        .unwrap();
    }
    let before = tree(root.path());
    let run = run_with_registry(
        shipped(),
        options(
            "EFFECT node called DatabaseWriter writes records to PostgreSQL",
            &out,
        ),
        services(),
        Arc::new(Inject(stage)),
    )
    .await;
    let r = &run.result;
    assert_eq!(r.failed_stage.as_deref(), Some(stage), "{}", r.summary());
    assert_eq!(r.error_code.as_deref(), Some("INTERNAL_ERROR"));
    assert!(
        r.error_summary.as_deref().unwrap().contains("inject"),
        "{}",
        r.summary()
    );
    assert_eq!(
        tree(root.path()),
        before,
        "a failure in {stage} changed the output"
    );
    let failed = run.events.last().unwrap();
    assert_eq!(failed.event_type, "PipelineFailed");
    if matches!(stage, "generation" | "post_validation" | "writing") {
        assert_eq!(failed.payload["rollback_performed"], true, "{stage}");
    }
}

#[tokio::test]
async fn failure_in_each_stage_leaves_an_existing_output_dir_as_it_was() {
    for stage in [
        "parsing",
        "pre_validation",
        "generation",
        "post_validation",
        "writing",
    ] {
        check_stage(stage, true).await;
    }
}

#[tokio::test]
async fn failure_in_each_stage_removes_the_output_dirs_the_run_created() {
    for stage in [
        "parsing",
        "pre_validation",
        "generation",
        "post_validation",
        "writing",
    ] {
        check_stage(stage, false).await;
    }
}
