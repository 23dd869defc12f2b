//! Executor semantics on small workflows of a job catalogue (tests/fixtures/workflows) and a
//! test handler table: order, gates, retries, timeouts, concurrency, events, built-in steps.
//! Every test contract goes through the one validation path. The clock is paused: sleeps in
//! handlers advance virtual time.

use onex_engine::contract::executable::{HandlerInfo, Outputs, ParamDoc};
use onex_engine::events::{Component, Envelope, EventRegistry, EventStatus};
use onex_engine::pipeline::replay;
use onex_engine::pipeline::run::{event_source, trigger_envelope};
use onex_engine::pipeline::{
    Executor, GateCtx, GateStatus, GateVerdict, HandlerEntry, Handlers, RunRequest, RunResult,
    Services, StageCtx, StageError, StageStatus, VecSink,
};
use onex_engine::workflow::{Workflow, WorkflowSet};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

async fn ok(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    Ok(json!({ "out": { "stage": ctx.stage.id, "attempt": ctx.attempt } }))
}
async fn flaky(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let fail_times = ctx.param("fail_times").and_then(Value::as_u64).unwrap_or(0);
    if u64::from(ctx.attempt) <= fail_times {
        return Err(StageError::Infra(format!(
            "disk hiccup on attempt {}",
            ctx.attempt
        )));
    }
    Ok(json!({ "out": { "attempt": ctx.attempt } }))
}
async fn slow(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let ms = ctx
        .param("sleep_ms")
        .and_then(Value::as_u64)
        .unwrap_or(10_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({ "out": { "slept": ms } }))
}
async fn refuse(_: &StageCtx<'_>) -> Result<Value, StageError> {
    Err(StageError::failed("BAD_INPUT", "input refused").with_suggestions(vec!["fix it".into()]))
}
async fn progress3(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    for i in 1..=3 {
        ctx.progress(json!({ "n": i }));
    }
    Ok(json!({ "out": {} }))
}
async fn g_pass(_: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    Ok(GateVerdict::pass("fine"))
}
async fn g_fail(_: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    Ok(GateVerdict::fail("broken").details(json!({ "why": "test" })))
}
async fn g_slow_fail(_: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(GateVerdict::fail("slowly broken"))
}
async fn g_slow_pass(_: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(GateVerdict::pass("slowly fine"))
}

const fn info(stage: bool, params: &'static [ParamDoc]) -> HandlerInfo {
    HandlerInfo {
        stage,
        gate: !stage,
        outputs: Outputs::Fixed(if stage { &["out"] } else { &[] }),
        doc: "test handler",
        params,
        check_params: None,
        param_expressions: None,
        param_event: None,
        failure_codes: &["BAD_INPUT"],
    }
}

const fn stage_p(
    name: &'static str,
    params: &'static [ParamDoc],
    f: onex_engine::pipeline::StageFn,
) -> HandlerEntry {
    HandlerEntry {
        name,
        info: info(true, params),
        stage: Some(f),
        gate: None,
    }
}

const fn stage(name: &'static str, f: onex_engine::pipeline::StageFn) -> HandlerEntry {
    stage_p(name, &[], f)
}

const fn gate(name: &'static str, f: onex_engine::pipeline::GateFn) -> HandlerEntry {
    HandlerEntry {
        name,
        info: info(false, &[]),
        stage: None,
        gate: Some(f),
    }
}

const FAIL_TIMES: &[ParamDoc] = &[ParamDoc {
    name: "fail_times",
    required: false,
    doc: "integer",
}];
const SLEEP_MS: &[ParamDoc] = &[ParamDoc {
    name: "sleep_ms",
    required: false,
    doc: "integer",
}];

static TEST_HANDLERS: &[HandlerEntry] = &[
    stage("ok", |c| Box::pin(ok(c))),
    stage_p("flaky", FAIL_TIMES, |c| Box::pin(flaky(c))),
    stage_p("slow", SLEEP_MS, |c| Box::pin(slow(c))),
    stage("refuse", |c| Box::pin(refuse(c))),
    stage("progress3", |c| Box::pin(progress3(c))),
    gate("pass", |c| Box::pin(g_pass(c))),
    gate("fail", |c| Box::pin(g_fail(c))),
    gate("slow_fail", |c| Box::pin(g_slow_fail(c))),
    gate("slow_pass", |c| Box::pin(g_slow_pass(c))),
];

fn handlers() -> Handlers {
    Handlers::builtin()
        .with(TEST_HANDLERS)
        .expect("unique names")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/workflows")
}

/// A workflow with the given stages (each `{id, depends_on?, …onex stage keys}`), validated
/// through the one validation path. `extra` is merged into the `onex:` block (terminal events,
/// result).
fn workflow_with(mode: &str, stages: Value, extra: Value) -> Workflow {
    let nodes: Vec<Value> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!({"node_id": s["id"], "node_type": "COMPUTE_GENERIC",
                         "depends_on": s.get("depends_on").cloned().unwrap_or(json!([]))})
        })
        .collect();
    let onex_stages: Vec<Value> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.as_object_mut().unwrap().remove("depends_on");
            s
        })
        .collect();
    let mut onex = json!({"catalog": "test_events.yaml", "triggers": ["JobSubmitted"],
                          "run_timeout_ms": 60_000, "stages": onex_stages,
                          "result": {"job": "trigger.job"}});
    if let (Some(o), Value::Object(e)) = (onex.as_object_mut(), extra) {
        o.extend(e);
    }
    let root = json!({
        "contract_version": {"major": 1, "minor": 0, "patch": 0},
        "name": "test_job_orchestrator", "node_type": "ORCHESTRATOR_GENERIC",
        "workflow_coordination": {"workflow_definition": {
            "workflow_metadata": {"workflow_name": "test_job", "execution_mode": mode},
            "execution_graph": {"nodes": nodes}}},
        "onex": onex,
    });
    // JSON is YAML: the contract goes through the loader like a file would.
    let text = serde_json::to_string_pretty(&root).unwrap();
    match Workflow::load_str(&fixtures().join("test.yaml"), &text, &handlers()) {
        Ok(w) => w,
        Err(d) => panic!("test workflow does not validate: {d:#?}"),
    }
}

fn contract(mode: &str, stages: Value) -> Workflow {
    workflow_with(mode, stages, json!({}))
}

async fn run(w: &Workflow) -> (RunResult, Vec<Envelope>) {
    run_payload(
        w,
        json!({"job": "test job", "size": 3, "force": false, "compile": true}),
    )
    .await
}

async fn run_payload(w: &Workflow, payload: Value) -> (RunResult, Vec<Envelope>) {
    let trigger = trigger_envelope(
        "JobSubmitted",
        payload,
        Uuid::now_v7(),
        event_source(Component::Cli),
    );
    let request = RunRequest::new(w.id.clone(), trigger.clone(), 1);
    let events = WorkflowSet::new(vec![w.clone()]).unwrap().events().clone();
    let exec = Executor::new(
        Arc::new(handlers()),
        Arc::new(Services::default()),
        events,
        event_source(Component::Orchestrator),
    );
    let sink = VecSink::default();
    let result = exec
        .run(&w.contract, request, &sink)
        .await
        .expect("sink never fails");
    let mut events = vec![trigger];
    events.extend(sink.events());
    (result, events)
}

fn registry(w: &Workflow) -> Arc<EventRegistry> {
    WorkflowSet::new(vec![w.clone()]).unwrap().events().clone()
}

fn code(r: &RunResult) -> Option<&str> {
    r.failure.as_ref().map(|f| f.code.as_str())
}
fn failed_stage(r: &RunResult) -> Option<&str> {
    r.failure.as_ref().map(|f| f.stage.as_str())
}
fn failed_gate(r: &RunResult) -> Option<&str> {
    r.failure.as_ref().and_then(|f| f.failed_gate.as_deref())
}
fn suggestions(r: &RunResult) -> Vec<String> {
    r.failure
        .as_ref()
        .map(|f| f.recovery_suggestions.clone())
        .unwrap_or_default()
}

fn types(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("{}:{}", e.stage, e.event_type))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn sequential_run_emits_a_causal_chain_and_records_every_stage() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok", "gates": [
                   {"id": "A1", "name": "a one", "type": "BLOCKING", "handler": "pass", "error_code": "E"}]},
               {"id": "b", "handler": "ok", "depends_on": ["a"]}]),
    );
    let (r, events) = run(&c).await;
    assert!(r.success(), "{}", r.summary());
    assert_eq!(
        types(&events),
        [
            "pipeline:JobSubmitted",
            "a:StageStarted",
            "a:StageCompleted",
            "b:StageStarted",
            "b:StageCompleted",
            "pipeline:RunCompleted"
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert_eq!(e.correlation_id, events[0].correlation_id);
        if i > 0 {
            assert_eq!(e.causation_id, Some(events[i - 1].event_id));
        }
        registry(&c).validate_envelope(e).expect("catalogue-valid");
    }
    assert_eq!(r.stages.len(), 2);
    assert!(r.stages.iter().all(|s| s.status == StageStatus::Completed));
    assert_eq!(r.stages[0].gates[0].status, GateStatus::Pass);
    assert_rebuilds(&c, &r, &events);
}

/// The result rebuilt from the events alone says what the executor said.
fn assert_rebuilds(c: &Workflow, r: &RunResult, events: &[Envelope]) {
    let ids: Vec<String> = c.contract.stages.iter().map(|s| s.id.clone()).collect();
    // Shuffled and duplicated delivery must not matter.
    let mut scrambled: Vec<Envelope> = events.iter().rev().cloned().collect();
    scrambled.extend(events.iter().cloned());
    let b = replay::rebuild(&scrambled, Some(&ids)).expect("terminal event present");
    assert_eq!(b.status, r.status);
    assert_eq!(b.correlation_id, r.correlation_id);
    assert_eq!(b.failure, r.failure);
    assert_eq!(b.outputs, r.outputs);
    assert_eq!(b.workflow, r.workflow);
    assert_eq!(b.stages.len(), r.stages.len());
    for (x, y) in b.stages.iter().zip(&r.stages) {
        assert_eq!(
            (x.stage_id.as_str(), x.status),
            (y.stage_id.as_str(), y.status)
        );
        assert_eq!(x.error_code, y.error_code);
        let gx: Vec<_> = x
            .gates
            .iter()
            .map(|g| (g.gate_id.clone(), g.status, g.message.clone()))
            .collect();
        let gy: Vec<_> = y
            .gates
            .iter()
            .map(|g| (g.gate_id.clone(), g.status, g.message.clone()))
            .collect();
        assert_eq!(gx, gy, "gates of {}", x.stage_id);
    }
    assert_eq!(b.warnings.len(), r.warnings.len());
}

#[tokio::test(start_paused = true)]
async fn blocking_fail_stops_the_stage_skips_later_gates_and_stages() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok", "gates": [
                   {"id": "W", "name": "warn", "type": "WARNING", "handler": "fail", "error_code": "SOFT"},
                   {"id": "B", "name": "block", "type": "BLOCKING", "handler": "fail", "error_code": "HARD",
                    "recovery_suggestions": ["see {{ details.why }}"]},
                   {"id": "C", "name": "after", "type": "BLOCKING", "handler": "pass", "error_code": "E"}]},
               {"id": "b", "handler": "ok", "depends_on": ["a"]}]),
    );
    let (r, events) = run(&c).await;
    assert!(!r.success());
    assert_eq!(failed_stage(&r), Some("a"));
    assert_eq!(failed_gate(&r), Some("B"));
    assert_eq!(code(&r), Some("HARD"));
    assert_eq!(suggestions(&r), ["see test"]);
    let gates = &r.stages[0].gates;
    assert_eq!(
        gates[0].status,
        GateStatus::Warning,
        "WARNING gates never block"
    );
    assert_eq!(gates[1].status, GateStatus::Fail);
    assert_eq!(gates[2].status, GateStatus::Skipped);
    assert_eq!(gates[2].skip_reason.as_deref(), Some("not run: B failed"));
    assert_eq!(r.stages[1].status, StageStatus::Skipped);
    assert_eq!(
        r.stages[1].skip_reason.as_deref(),
        Some("not run: a failed")
    );
    assert_eq!(
        types(&events)[1..],
        ["a:StageStarted", "a:StageFailed", "pipeline:RunFailed"]
    );
    assert_rebuilds(&c, &r, &events);
}

#[tokio::test(start_paused = true)]
async fn infra_errors_retry_with_backoff_and_no_second_started_event() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "flaky", "params": {"fail_times": 2},
                "retry": {"max_attempts": 3, "backoff_ms": 1000, "jitter": 0.0}}]),
    );
    let t0 = tokio::time::Instant::now();
    let (r, events) = run(&c).await;
    assert!(r.success(), "{}", r.summary());
    assert_eq!(r.stages[0].metadata["attempts"], json!(3));
    // Waits of 1 s then 2 s (exponential), in virtual time.
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "StageStarted")
            .count(),
        1
    );
    let completed = events
        .iter()
        .find(|e| e.event_type == "StageCompleted")
        .unwrap();
    assert_eq!(completed.payload["attempts"], json!(3));
}

#[tokio::test(start_paused = true)]
async fn retries_exhausted_fail_with_the_stage_error_code() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "flaky", "params": {"fail_times": 5}, "error_code": "DISK",
                "retry": {"max_attempts": 2, "backoff_ms": 10, "jitter": 0.0}}]),
    );
    let (r, _) = run(&c).await;
    assert_eq!(code(&r), Some("DISK"));
    assert!(
        r.failure
            .as_ref()
            .unwrap()
            .message
            .contains("after 2 attempts")
    );
}

#[tokio::test(start_paused = true)]
async fn domain_failures_and_gate_failures_are_never_retried() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "refuse", "retry": {"max_attempts": 5}}]),
    );
    let (r, _) = run(&c).await;
    assert_eq!(code(&r), Some("BAD_INPUT"));
    assert_eq!(r.stages[0].metadata["attempts"], json!(1));

    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok", "retry": {"max_attempts": 5},
                "gates": [{"id": "B", "name": "b", "type": "BLOCKING", "handler": "fail", "error_code": "HARD"}]}]),
    );
    let (r, _) = run(&c).await;
    assert_eq!(code(&r), Some("HARD"));
    assert_eq!(r.stages[0].metadata["attempts"], json!(1));
}

#[tokio::test(start_paused = true)]
async fn stage_timeout_is_retryable_then_fails() {
    let c = contract(
        "sequential",
        json!([{"id": "gen", "handler": "slow", "params": {"sleep_ms": 10_000}, "timeout_ms": 100,
                "retry": {"max_attempts": 2, "backoff_ms": 10, "jitter": 0.0}}]),
    );
    let (r, _) = run(&c).await;
    assert_eq!(code(&r), Some("GEN_TIMEOUT"));
    assert_eq!(r.stages[0].metadata["attempts"], json!(2));
}

#[tokio::test(start_paused = true)]
async fn run_timeout_fails_the_running_stage_with_pipeline_timeout() {
    let mut c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok"},
               {"id": "b", "handler": "slow", "params": {"sleep_ms": 120_000}, "depends_on": ["a"]},
               {"id": "c", "handler": "ok", "depends_on": ["b"]}]),
    );
    c.contract.run_timeout = Duration::from_secs(5);
    let (r, events) = run(&c).await;
    assert_eq!(code(&r), Some("PIPELINE_TIMEOUT"));
    assert_eq!(failed_stage(&r), Some("b"));
    assert_eq!(r.stages[1].status, StageStatus::Failed);
    assert_eq!(r.stages[2].status, StageStatus::Skipped);
    assert_eq!(
        types(&events)[3..],
        ["b:StageStarted", "b:StageFailed", "pipeline:RunFailed"]
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_mode_runs_a_wave_concurrently() {
    let c = contract(
        "parallel",
        json!([{"id": "a", "handler": "ok"},
               {"id": "b", "handler": "slow", "params": {"sleep_ms": 1000}, "depends_on": ["a"]},
               {"id": "c", "handler": "slow", "params": {"sleep_ms": 1000}, "depends_on": ["a"]},
               {"id": "d", "handler": "ok", "depends_on": ["b", "c"]}]),
    );
    let t0 = tokio::time::Instant::now();
    let (r, events) = run(&c).await;
    assert!(r.success());
    // b and c overlap: about 1 s of virtual time, not 2.
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    let started: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "StageStarted")
        .map(|e| e.stage.as_str())
        .collect();
    assert_eq!(started[0], "a");
    assert_eq!(started[3], "d");
}

#[tokio::test(start_paused = true)]
async fn concurrent_gates_fail_fast_and_cancel_the_rest() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok", "gates": [
            {"id": "P", "name": "slow pass", "type": "BLOCKING", "handler": "slow_pass", "error_code": "E", "parallel": true},
            {"id": "F", "name": "slow fail", "type": "BLOCKING", "handler": "slow_fail", "error_code": "E", "parallel": true},
            {"id": "D", "name": "after P", "type": "BLOCKING", "handler": "pass", "error_code": "E", "depends_on": ["P"]}]}]),
    );
    let t0 = tokio::time::Instant::now();
    let (r, _) = run(&c).await;
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "cancelled, not waited for"
    );
    assert_eq!(failed_gate(&r), Some("F"));
    let g = |id: &str| {
        r.stages[0]
            .gates
            .iter()
            .find(|g| g.gate_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(g("P").status, GateStatus::Skipped);
    assert_eq!(g("P").skip_reason.as_deref(), Some("cancelled: F failed"));
    assert_eq!(g("D").skip_reason.as_deref(), Some("not run: F failed"));
}

#[tokio::test(start_paused = true)]
async fn expression_gates_when_and_progress_events() {
    let c = contract(
        "sequential",
        json!([{"id": "build", "handler": "progress3",
                "events": {"progress": {"type": "JobStepDone", "payload": {
                    "step": "stage.progress.n", "note": "'step ' ~ stage.progress.n"}}},
                "gates": [
                  {"id": "E1", "name": "words", "type": "WARNING", "expression": "trigger.job | word_count >= 50",
                   "fail_message": "only {{ trigger.job | word_count }} words", "error_code": "SHORT"},
                  {"id": "E2", "name": "regex", "type": "BLOCKING",
                   "checks": [{"expression": "trigger.job is matching('^test')", "fail_message": "no test"},
                              {"expression": "trigger.force", "fail_message": "force is {{ trigger.force }}"}],
                   "error_code": "CHK"}]},
               {"id": "skipme", "handler": "ok", "depends_on": ["build"],
                "when": {"expression": "not trigger.compile", "skip_reason": "compile is on"}}]),
    );
    let (r, events) = run(&c).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.status == EventStatus::InProgress)
            .count(),
        3
    );
    let gates = &r.stages[0].gates;
    assert_eq!(gates[0].status, GateStatus::Warning);
    assert_eq!(gates[0].message, "only 2 words");
    assert_eq!(gates[1].status, GateStatus::Fail);
    assert_eq!(gates[1].message, "force is False"); // minijinja renders booleans as Python does
    assert_eq!(code(&r), Some("CHK"));
}

#[tokio::test(start_paused = true)]
async fn when_false_skips_a_stage_without_events() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "ok"},
               {"id": "b", "handler": "ok", "depends_on": ["a"],
                "when": {"expression": "not trigger.compile", "skip_reason": "compile is on"}}]),
    );
    let (r, events) = run(&c).await;
    assert!(r.success());
    assert_eq!(r.stages[1].status, StageStatus::Skipped);
    assert_eq!(r.stages[1].skip_reason.as_deref(), Some("compile is on"));
    assert!(events.iter().all(|e| e.stage != "b"));
}

#[tokio::test(start_paused = true)]
async fn a_payload_the_catalogue_rejects_falls_back_to_the_generic_event() {
    // JobStepDone's `step` is an integer; `stage.id` gives a string, which only the run can
    // tell (validation cannot know what a field read yields).
    let c = contract(
        "sequential",
        json!([{"id": "build", "handler": "ok",
                "events": {"completed": {"type": "JobStepDone", "payload": {"step": "stage.id"}}}}]),
    );
    let (r, events) = run(&c).await;
    assert!(r.success(), "{}", r.summary());
    let done = events
        .iter()
        .find(|e| e.status == EventStatus::Completed && e.stage == "build")
        .unwrap();
    assert_eq!(done.event_type, "StageCompleted");
    assert_eq!(done.payload["declared_event"], "JobStepDone");
    assert_eq!(events.last().unwrap().event_type, "RunCompleted");
}

#[tokio::test(start_paused = true)]
async fn a_terminal_payload_the_catalogue_rejects_falls_back_to_run_failed() {
    // JobAborted's error_code is an enum; the failure message is not one of its codes.
    let c = workflow_with(
        "sequential",
        json!([{"id": "build", "handler": "refuse"}]),
        json!({"events": {"failed": {"type": "JobAborted", "payload": {
            "job": "trigger.job", "error_code": "failure.message",
            "recovery_suggestions": "failure.recovery_suggestions"}}}}),
    );
    let (r, events) = run(&c).await;
    assert_eq!(code(&r), Some("BAD_INPUT"));
    let last = events.last().unwrap();
    assert_eq!(
        last.event_type, "RunFailed",
        "the run still ends with a terminal event"
    );
    assert_eq!(last.payload["declared_event"], "JobAborted");
    assert_eq!(
        last.outcome
            .as_ref()
            .unwrap()
            .failure
            .as_ref()
            .unwrap()
            .code,
        "BAD_INPUT"
    );
}

#[tokio::test(start_paused = true)]
async fn declared_terminal_events_carry_the_contracts_payload_and_the_outcome() {
    let c = workflow_with(
        "sequential",
        json!([{"id": "build", "handler": "ok"}]),
        json!({"result": {"job": "trigger.job", "total": "trigger.size * 2"},
               "events": {"completed": {"type": "JobFinished", "payload": {
                   "job": "result.job", "total": "result.total",
                   "total_duration_seconds": "run.duration_seconds"}}}}),
    );
    let (r, events) = run(&c).await;
    assert!(r.success());
    let last = events.last().unwrap();
    assert_eq!(last.event_type, "JobFinished");
    assert_eq!(last.payload["job"], "test job");
    assert_eq!(last.payload["total"], 6);
    assert_eq!(r.outputs["total"], 6);
    let outcome = last.outcome.as_ref().unwrap();
    assert_eq!(outcome.outputs["total"], 6);
    assert_eq!(last.workflow.as_ref(), Some(&c.id));
    assert_rebuilds(&c, &r, &events);
}

#[tokio::test(start_paused = true)]
async fn a_failed_stage_reports_its_own_duration_not_the_runs() {
    let c = contract(
        "sequential",
        json!([{"id": "a", "handler": "slow", "params": {"sleep_ms": 5_000}},
               {"id": "b", "handler": "refuse", "depends_on": ["a"]}]),
    );
    let (r, events) = run(&c).await;
    assert_eq!(r.stages[0].duration_ms, Some(5_000));
    assert_eq!(r.stages[1].status, StageStatus::Failed);
    assert!(
        r.stages[1].duration_ms.unwrap() < 1_000,
        "{:?}",
        r.stages[1].duration_ms
    );
    let failed = events
        .iter()
        .find(|e| e.event_type == "StageFailed")
        .unwrap();
    assert!(
        failed
            .payload
            .get("duration_ms")
            .is_none_or(|d| d.as_u64() < Some(1_000))
    );
}

// ── Built-in steps, through the executor (real processes: no paused clock) ──────────────────

/// `outputs:` computes context entries; `command` with JSON stdout feeds an expression gate;
/// `emit` publishes a declared event mid-run; the result reads all three.
#[tokio::test]
async fn outputs_command_and_emit_steps_need_no_rust() {
    let c = workflow_with(
        "sequential",
        json!([
            {"id": "sizes", "outputs": {"doubled": "trigger.size * 2", "name": "trigger.job | upper"}},
            {"id": "count", "depends_on": ["sizes"], "handler": "command",
             "params": {"argv": ["sh", "-c", "printf '{\"n\": %s}' \"$1\"", "sh", "{{ sizes.doubled }}"],
                        "stdout": "json"},
             "gates": [{"id": "C1", "name": "Counted", "type": "BLOCKING",
                        "expression": "count.json.n == 6", "fail_message": "n = {{ count.json.n }}",
                        "error_code": "CHK", "recovery_suggestions": ["count again"]}]},
            {"id": "tell", "depends_on": ["count"], "handler": "emit",
             "params": {"type": "JobStepDone", "payload": {"step": "count.json.n", "note": "sizes.name"}}},
        ]),
        json!({"result": {"job": "trigger.job", "n": "count.json.n", "exit": "count.exit_code"}}),
    );
    let (r, events) = run(&c).await;
    assert!(r.success(), "{:?}", r.failure);
    assert_eq!(r.outputs["n"], 6);
    assert_eq!(r.outputs["exit"], 0);
    let step = events
        .iter()
        .find(|e| e.event_type == "JobStepDone")
        .expect("emitted");
    assert_eq!(step.payload, json!({"step": 6, "note": "TEST JOB"}));
    assert_eq!(step.stage, "tell");
    assert_eq!(step.correlation_id, r.correlation_id);
    assert_rebuilds(&c, &r, &events);
}

/// A command's exit code decides a gate; its stderr tail is in the failure's details.
#[tokio::test]
async fn a_command_gate_fails_on_its_exit_code_with_the_stderr_tail() {
    let c = contract(
        "sequential",
        json!([{"id": "check", "gates": [
            {"id": "K1", "name": "Tool Happy", "type": "BLOCKING", "handler": "command",
             "params": {"argv": ["sh", "-c", "echo broken: {{ trigger.job }} >&2; exit 3"]},
             "error_code": "CHK", "recovery_suggestions": ["fix it"]}]}]),
    );
    let (r, _) = run(&c).await;
    let f = r.failure.as_ref().expect("failed");
    assert_eq!(
        (f.code.as_str(), f.failed_gate.as_deref()),
        ("CHK", Some("K1"))
    );
    let gate = &r.stages[0].gates[0];
    assert_eq!(gate.status, GateStatus::Fail);
    let details = serde_json::to_string(&gate.details).unwrap();
    assert!(details.contains("broken: test job"), "{details}");
    assert!(details.contains("\"exit_code\":3"), "{details}");
}

/// A command over its `timeout_ms` is killed and its stage fails with COMMAND_TIMEOUT, long
/// before the program would have ended; a program that is not installed fails with
/// COMMAND_NOT_FOUND, or is a warning with `when_missing: warn`.
#[tokio::test]
async fn command_timeouts_and_missing_programs() {
    let c = contract(
        "sequential",
        json!([{"id": "wait", "handler": "command",
                "params": {"argv": ["sleep", "30"], "timeout_ms": 200}}]),
    );
    let t0 = std::time::Instant::now();
    let (r, events) = run(&c).await;
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&r), Some("COMMAND_TIMEOUT"));
    let last = events.last().unwrap();
    assert_eq!(last.event_type, "RunFailed");
    assert_eq!(last.payload["error_code"], "COMMAND_TIMEOUT");

    let c = contract(
        "sequential",
        json!([{"id": "tool", "handler": "command",
                "params": {"argv": ["onex-test-no-such-program", "x"]}}]),
    );
    let (r, _) = run(&c).await;
    assert_eq!(code(&r), Some("COMMAND_NOT_FOUND"));
    assert!(
        r.failure
            .as_ref()
            .unwrap()
            .message
            .contains("onex-test-no-such-program"),
        "{:?}",
        r.failure
    );

    let c = contract(
        "sequential",
        json!([{"id": "lint", "gates": [
            {"id": "L1", "name": "Lint", "type": "WARNING", "handler": "command",
             "params": {"argv": ["onex-test-no-such-program"], "when_missing": "warn"},
             "error_code": "CHK", "recovery_suggestions": ["install it"]}]}]),
    );
    let (r, _) = run(&c).await;
    assert!(r.success(), "{:?}", r.failure);
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].gate_id, "L1");
}

/// A cancelled run stops at the next stage boundary: the running stage finishes, the next never
/// starts, and the run ends through its failure path with CANCELLED (docs/bus.md
/// "Cancellation"); a declared failure event that cannot carry the code gives way to RunFailed.
#[tokio::test(start_paused = true)]
async fn cancellation_stops_at_the_next_stage_boundary() {
    for declared in [false, true] {
        let stages = json!([{"id": "a", "handler": "slow", "params": {"sleep_ms": 1000}},
                            {"id": "b", "handler": "ok", "depends_on": ["a"]}]);
        let extra = if declared {
            json!({"events": {"failed": {"type": "JobAborted", "payload": {
                "job": "trigger.job", "error_code": "failure.code",
                "recovery_suggestions": "failure.recovery_suggestions"}}}})
        } else {
            json!({})
        };
        let w = workflow_with("sequential", stages, extra);
        let trigger = trigger_envelope(
            "JobSubmitted",
            json!({"job": "j"}),
            Uuid::now_v7(),
            event_source(Component::Cli),
        );
        let exec = Executor::new(
            Arc::new(handlers()),
            Arc::new(Services::default()),
            registry(&w),
            event_source(Component::Orchestrator),
        );
        let sink = VecSink::default();
        let cancel = tokio_util::sync::CancellationToken::new();
        let canceller = {
            let c = cancel.clone();
            // Virtual time: half-way through stage a's sleep.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                c.cancel();
            })
        };
        let r = exec
            .run_cancellable(
                &w.contract,
                RunRequest::new(w.id.clone(), trigger, 1),
                &sink,
                &cancel,
            )
            .await
            .unwrap();
        canceller.await.unwrap();
        assert_eq!(code(&r), Some("CANCELLED"), "{}", r.summary());
        assert_eq!(failed_stage(&r), Some("b"));
        assert_eq!(
            r.stages[0].status,
            StageStatus::Completed,
            "a ran to its end"
        );
        assert_eq!(r.stages[1].status, StageStatus::Skipped, "b never started");
        let events = sink.events();
        assert!(!types(&events).contains(&"b:StageStarted".to_string()));
        let last = events.last().unwrap();
        assert_eq!(last.event_type, "RunFailed", "{declared}");
        assert_eq!(last.payload["error_code"], "CANCELLED");
        if declared {
            assert_eq!(last.payload["declared_event"], "JobAborted");
        }
    }
}
