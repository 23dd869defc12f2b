//! Runs contract tests: each in a fresh temporary directory with its own embedded bus (so
//! tests share nothing and run in parallel), through the orchestrator's own trigger handling
//! (run state, events on the bus, terminal event), with the test's faults in the executor's
//! services. The run's events are read back from the bus and checked; the result is the one
//! rebuilt from those events, as every client sees it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{TestFile, split_event};
use crate::bus::{self, BusConfig, ObserveFrom, Role};
use crate::contract::source::Location;
use crate::diag::Diagnostic;
use crate::events::{Component, Envelope, EventStatus, WorkflowRef};
use crate::pipeline::faults::FaultPlan;
use crate::pipeline::run::{event_source, trigger_envelope};
use crate::pipeline::{Executor, Handlers, RunResult, Services, replay};
use crate::service::{Orchestrator, OrchestratorOptions};
use crate::workflow::{Workflow, WorkflowSet};

/// What every test of one `onex test` shares.
pub struct RunnerConfig {
    pub handlers: Handlers,
    /// Handler settings; each test gets a copy with its working directory as the only allowed
    /// root and its faults.
    pub services: Services,
    /// Workflows a test may name instead of giving a contract file.
    pub named: Option<Arc<WorkflowSet>>,
    /// Tests at once.
    pub jobs: usize,
}

/// How one test went.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub name: String,
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    pub duration_ms: u64,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Verdict {
    /// Every expectation held.
    Passed,
    /// The run went, and these expectations did not hold.
    Failed { mismatches: Vec<Mismatch> },
    /// The test could not run (bad test file, unknown workflow, the run did not finish).
    Error { problems: Vec<String> },
}

/// One expectation that did not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// `file:line:col` of the expectation in the test file.
    pub at: String,
    pub message: String,
    /// A line diff (`-` expected, `+` actual) when the values are lists or long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Passed)
    }
}

/// Runs the tests at `paths` (at most `cfg.jobs` at once); reports in the order given.
pub async fn run_all(paths: Vec<PathBuf>, cfg: Arc<RunnerConfig>) -> Vec<TestReport> {
    use futures_util::StreamExt;
    let jobs = cfg.jobs.max(1);
    let mut reports: Vec<(usize, TestReport)> =
        futures_util::stream::iter(paths.into_iter().enumerate().map(|(i, p)| {
            let cfg = cfg.clone();
            async move {
                // Each test on its own task: handlers and gates run on every core.
                let path = p.clone();
                let r = tokio::spawn(async move { run_one(&p, &cfg).await }).await;
                let report = r.unwrap_or_else(|e| TestReport {
                    name: path.display().to_string(),
                    path,
                    workflow: None,
                    correlation_id: None,
                    duration_ms: 0,
                    verdict: Verdict::Error {
                        problems: vec![format!("the test task failed: {e}")],
                    },
                });
                (i, report)
            }
        }))
        .buffer_unordered(jobs)
        .collect()
        .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

fn diag_line(d: &Diagnostic) -> String {
    format!(
        "{}:{}:{} {} {}",
        d.path.display(),
        d.pos.line,
        d.pos.column,
        d.code,
        d.message
    )
}

fn at(loc: &Location) -> String {
    format!("{}:{}:{}", loc.path.display(), loc.pos.line, loc.pos.column)
}

/// Loads, runs and checks one test file.
pub async fn run_one(path: &Path, cfg: &RunnerConfig) -> TestReport {
    let t0 = Instant::now();
    let mut report = TestReport {
        name: path.display().to_string(),
        path: path.to_path_buf(),
        workflow: None,
        correlation_id: None,
        duration_ms: 0,
        verdict: Verdict::Passed,
    };
    let verdict = match TestFile::load_checked(path, cfg) {
        Err(problems) => Verdict::Error { problems },
        Ok((test, wf)) => {
            report.name = test.name.clone();
            report.workflow = Some(wf.id.clone());
            let cid = test.correlation_id.unwrap_or_else(Uuid::now_v7);
            report.correlation_id = Some(cid);
            match execute(&test, wf, cfg, cid).await {
                Err(problems) => Verdict::Error { problems },
                Ok(run) => {
                    let mismatches = check(&test, &run);
                    if mismatches.is_empty() {
                        Verdict::Passed
                    } else {
                        Verdict::Failed { mismatches }
                    }
                }
            }
        }
    };
    report.verdict = verdict;
    report.duration_ms = t0.elapsed().as_millis() as u64;
    report
}

impl TestFile {
    /// The test and its workflow, or every problem as `file:line:col CODE message`.
    fn load_checked(path: &Path, cfg: &RunnerConfig) -> Result<(TestFile, Workflow), Vec<String>> {
        let test = super::load(path).map_err(|d| d.iter().map(diag_line).collect::<Vec<_>>())?;
        let wf = match test.workflow_path() {
            Some(p) => Workflow::load(&p, &cfg.handlers)
                .map_err(|d| d.iter().map(diag_line).collect::<Vec<_>>())?,
            None => match cfg.named.as_ref().and_then(|s| s.get(&test.workflow)) {
                Some(w) => (**w).clone(),
                None => {
                    let known: Vec<String> = cfg
                        .named
                        .iter()
                        .flat_map(|s| s.workflows().iter().map(|w| w.id.name.clone()))
                        .collect();
                    let hint =
                        crate::diag::did_you_mean(&test.workflow, known.iter().map(String::as_str))
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                    return Err(vec![diag_line(&test.error(
                        "ONEX111",
                        "/workflow",
                        format!(
                            "no contract file {} next to the test, and no workflow named '{}'{hint} (known: {})",
                            test.workflow,
                            test.workflow,
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        ),
                    ))]);
                }
            },
        };
        let set = WorkflowSet::new(vec![wf.clone()])
            .map_err(|d| d.iter().map(diag_line).collect::<Vec<_>>())?;
        let problems = test.check_against(&wf, set.events());
        if !problems.is_empty() {
            return Err(problems.iter().map(diag_line).collect());
        }
        Ok((test, wf))
    }
}

/// A finished run as the test sees it.
struct Observed {
    events: Vec<Envelope>,
    result: RunResult,
    workdir: PathBuf,
    // Kept until the checks are done (files written by the run live there).
    _dir: tempfile::TempDir,
}

/// `${workdir}` and `${test_dir}` in every string of `v`.
fn substitute(v: &mut Value, workdir: &str, test_dir: &str) {
    match v {
        Value::String(s) if s.contains("${") => {
            *s = s
                .replace("${workdir}", workdir)
                .replace("${test_dir}", test_dir);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, workdir, test_dir)),
        Value::Object(m) => m
            .values_mut()
            .for_each(|x| substitute(x, workdir, test_dir)),
        _ => {}
    }
}

async fn execute(
    test: &TestFile,
    wf: Workflow,
    cfg: &RunnerConfig,
    cid: Uuid,
) -> Result<Observed, Vec<String>> {
    let fail = |m: String| vec![m];
    let dir = tempfile::Builder::new()
        .prefix("onex-test-")
        .tempdir()
        .map_err(|e| fail(format!("cannot make a temporary directory: {e}")))?;
    let workdir = dir.path().join("work");
    std::fs::create_dir_all(&workdir).map_err(|e| fail(format!("{}: {e}", workdir.display())))?;
    for (rel, text) in &test.files {
        let p = workdir.join(rel);
        if Path::new(rel).is_absolute() || rel.split('/').any(|c| c == "..") {
            return Err(fail(format!(
                "{}: files: `{rel}` must be a relative path inside the working directory",
                test.path.display()
            )));
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, text).map_err(|e| fail(format!("{}: {e}", p.display())))?;
    }
    let test_dir = test
        .path
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .unwrap_or_default();
    let mut payload = test.payload.clone();
    substitute(
        &mut payload,
        &workdir.to_string_lossy(),
        &test_dir.to_string_lossy(),
    );

    let set = WorkflowSet::new(vec![wf.clone()])
        .map_err(|d| d.iter().map(diag_line).collect::<Vec<_>>())?;
    let events = set.events().clone();
    let trigger_type = match &test.trigger_type {
        Some(t) => t.clone(),
        None => wf
            .contract
            .triggers
            .iter()
            .find(|t| {
                events
                    .get(t)
                    .is_some_and(|d| d.statuses.contains(&EventStatus::Started))
            })
            .cloned()
            .ok_or_else(|| {
                vec![diag_line(&test.error(
                    "ONEX111",
                    "/trigger",
                    format!(
                        "workflow '{}' has no trigger a client can publish ({}): name one in trigger.type",
                        wf.id.name,
                        wf.contract.triggers.join(", ")
                    ),
                ))]
            })?,
    };
    if let Err(e) = events.validate_payload(&trigger_type, &payload) {
        return Err(vec![diag_line(&test.error(
            "ONEX111",
            "/trigger/payload",
            format!("the {trigger_type} payload does not fit the catalogue: {e}"),
        ))]);
    }

    let db = dir.path().join("bus.db");
    let bus = bus::connect(
        &BusConfig::with_url(format!("embedded:{}", db.display())),
        Role::Service,
        events.clone(),
    )
    .await
    .map_err(|e| fail(format!("private bus {}: {e}", db.display())))?;

    let mut services = cfg.services.clone();
    services.allowed_roots = vec![workdir.clone()];
    services.fsync = false;
    services.insert(FaultPlan::new(
        test.faults.iter().map(super::FaultSpec::to_fault).collect(),
    ));
    let executor = Executor::new(
        Arc::new(cfg.handlers.clone()),
        Arc::new(services),
        events.clone(),
        event_source(Component::Orchestrator),
    );
    let orch = Orchestrator::new(
        bus.clone(),
        Arc::new(executor),
        Arc::new(set),
        OrchestratorOptions::default(),
    );
    let trigger = trigger_envelope(&trigger_type, payload, cid, event_source(Component::Cli));
    let topics = events.run_topics(&bus.config().topic_prefix);
    let mut observer = bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .map_err(|e| fail(format!("observing the private bus: {e}")))?;
    bus.publish(&trigger)
        .await
        .map_err(|e| fail(format!("publishing {trigger_type}: {e}")))?;
    let limit = test
        .timeout
        .unwrap_or(wf.contract.run_timeout + Duration::from_secs(10));
    match tokio::time::timeout(limit, orch.handle(trigger)).await {
        Err(_) => {
            return Err(fail(format!(
                "the run did not finish within {} s (timeout_s)",
                limit.as_secs_f64()
            )));
        }
        Ok(crate::service::Outcome::Retry(why)) => {
            return Err(fail(format!("the run could not complete: {why}")));
        }
        Ok(_) => {}
    }
    // Everything is on the bus once `handle` returned; read until the terminal event, then
    // until nothing more is there.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut terminal = false;
    loop {
        let wait = if terminal {
            Duration::from_millis(50)
        } else {
            Duration::from_millis(500)
        };
        match observer.next(wait).await {
            Ok(Some(o)) if o.envelope.correlation_id == cid => {
                terminal |= o.envelope.is_terminal();
                got.push(o.envelope);
            }
            Ok(Some(_)) => {}
            Ok(None) if terminal => break,
            Ok(None) if Instant::now() > deadline => {
                return Err(fail("the run's terminal event is not on the bus".into()));
            }
            Ok(None) => {}
            Err(e) => return Err(fail(format!("reading the private bus: {e}"))),
        }
    }
    let events = replay::order_run(&got);
    let stage_ids: Vec<String> = wf.contract.stages.iter().map(|s| s.id.clone()).collect();
    let result = replay::rebuild(&events, Some(&stage_ids))
        .ok_or_else(|| fail("the run's terminal event has no outcome".into()))?;
    Ok(Observed {
        events,
        result,
        workdir,
        _dir: dir,
    })
}

/// How an event is shown in an event list: `TYPE@STAGE`, or `TYPE` for run-level events.
fn shown(e: &Envelope) -> String {
    if e.stage == crate::events::catalog::PIPELINE_STAGE {
        e.event_type.clone()
    } else {
        format!("{}@{}", e.event_type, e.stage)
    }
}

fn matches_item(item: &str, e: &Envelope) -> bool {
    let (ty, stage) = split_event(item);
    ty == e.event_type && stage.is_none_or(|s| s == e.stage)
}

/// A line diff, `-` expected and `+` actual.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push(' ');
        out.push_str(change.value().trim_end_matches('\n'));
        out.push('\n');
    }
    out
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

fn check(test: &TestFile, run: &Observed) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut miss = |pointer: &str, message: String, diff: Option<String>| {
        out.push(Mismatch {
            at: at(&test.locate(pointer)),
            message,
            diff,
        });
    };
    let r = &run.result;
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let failure_line = r
        .failure
        .as_ref()
        .map(|f| format!(" ({} at {}: {})", f.code, f.stage, f.message))
        .unwrap_or_default();
    if let Some(want) = &test.expect.status
        && want != &status
    {
        miss(
            "/expect/status",
            format!("status: expected {want}, got {status}{failure_line}"),
            None,
        );
    }
    if let Some((want, pointer)) = &test.expect.failure {
        match &r.failure {
            None => miss(
                pointer,
                "failure: expected one, the run succeeded".into(),
                None,
            ),
            Some(f) => {
                let actual = serde_json::json!({
                    "stage": f.stage, "code": f.code, "gate": f.failed_gate,
                });
                for (k, v) in want.as_object().into_iter().flatten() {
                    if actual.get(k) != Some(v) {
                        miss(
                            &format!("{pointer}/{k}"),
                            format!(
                                "failure.{k}: expected {v}, got {} ({})",
                                actual[k], f.message
                            ),
                            None,
                        );
                    }
                }
            }
        }
    }
    if let Some(want) = &test.expect.events {
        let ok = want.len() == run.events.len()
            && want
                .iter()
                .zip(&run.events)
                .all(|(w, e)| matches_item(w, e));
        if !ok {
            // Show each actual event the way its expected counterpart is written, so only
            // real differences show up in the diff.
            let actual: Vec<String> = run
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| match want.get(i) {
                    Some(w) if !w.contains('@') && w == &e.event_type => e.event_type.clone(),
                    _ => shown(e),
                })
                .collect();
            miss(
                "/expect/events",
                format!(
                    "events: expected {} events, got {} (or in another order)",
                    want.len(),
                    run.events.len()
                ),
                Some(line_diff(
                    &(want.join("\n") + "\n"),
                    &(actual.join("\n") + "\n"),
                )),
            );
        }
    }
    if let Some(want) = &test.expect.events_subsequence {
        let mut it = run.events.iter();
        let mut found = 0;
        for w in want {
            if it.any(|e| matches_item(w, e)) {
                found += 1;
            } else {
                break;
            }
        }
        if found < want.len() {
            let actual: Vec<String> = run.events.iter().map(shown).collect();
            miss(
                &format!("/expect/events_subsequence/{found}"),
                format!(
                    "events_subsequence: `{}` not found after the {found} before it; the run's events:\n    {}",
                    want[found],
                    actual.join("\n    ")
                ),
                None,
            );
        }
    }
    for (p, pointer) in &test.expect.payloads {
        let item = p["event"].as_str().unwrap_or_default();
        let nth = p.get("nth").and_then(Value::as_u64).unwrap_or(1) as usize;
        let jp = p["pointer"].as_str().unwrap_or_default();
        let Some(e) = run
            .events
            .iter()
            .filter(|e| matches_item(item, e))
            .nth(nth - 1)
        else {
            let n = run.events.iter().filter(|e| matches_item(item, e)).count();
            miss(
                &format!("{pointer}/event"),
                format!("payloads: no {item} number {nth} (the run has {n})"),
                None,
            );
            continue;
        };
        let value = e.payload.pointer(jp);
        if let Some(want) = p.get("exists").and_then(Value::as_bool)
            && want != value.is_some()
        {
            miss(
                &format!("{pointer}/exists"),
                format!(
                    "payloads: {item} {jp}: expected {}, it {}",
                    if want { "present" } else { "absent" },
                    match value {
                        Some(v) => format!("is {v}"),
                        None => "is absent".into(),
                    }
                ),
                None,
            );
        }
        if let Some(want) = p.get("equals")
            && value != Some(want)
        {
            let got = value.cloned().unwrap_or(Value::Null);
            let diff = (want.is_object() || want.is_array() || got.is_object() || got.is_array())
                .then(|| line_diff(&pretty(want), &pretty(&got)));
            miss(
                &format!("{pointer}/equals"),
                format!(
                    "payloads: {item} {jp}: expected {want}, got {}",
                    value.map_or_else(|| "nothing (absent)".to_owned(), Value::to_string)
                ),
                diff,
            );
        }
        if let Some(re) = p.get("matches").and_then(Value::as_str) {
            let text = match value {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            match regex::Regex::new(re) {
                Err(err) => miss(
                    &format!("{pointer}/matches"),
                    format!("payloads: `{re}` is no regular expression: {err}"),
                    None,
                ),
                Ok(rx) if !rx.is_match(&text) => miss(
                    &format!("{pointer}/matches"),
                    format!("payloads: {item} {jp}: `{text}` does not match `{re}`"),
                    None,
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(want) = &test.expect.outputs {
        for (k, v) in want {
            let got = r.outputs.get(k);
            if got != Some(v) {
                let g = got.cloned().unwrap_or(Value::Null);
                let diff = (v.is_object() || v.is_array() || g.is_object() || g.is_array())
                    .then(|| line_diff(&pretty(v), &pretty(&g)));
                miss(
                    &format!(
                        "/expect/outputs/{}",
                        crate::contract::source::escape_segment(k)
                    ),
                    format!(
                        "outputs.{k}: expected {v}, got {}",
                        got.map_or_else(|| "nothing (absent)".to_owned(), Value::to_string)
                    ),
                    diff,
                );
            }
        }
    }
    for (f, pointer) in &test.expect.files {
        let rel = f["path"].as_str().unwrap_or_default();
        let p = run.workdir.join(rel);
        let want = f.get("exists").and_then(Value::as_bool).unwrap_or(true);
        let exists = p.exists();
        if want != exists {
            miss(
                &format!("{pointer}/path"),
                format!(
                    "files: {rel} {}",
                    if want {
                        "was not written"
                    } else {
                        "exists, expected absent"
                    }
                ),
                None,
            );
            continue;
        }
        if let Some(needle) = f.get("contains").and_then(Value::as_str) {
            match std::fs::read_to_string(&p) {
                Ok(text) if text.contains(needle) => {}
                Ok(_) => miss(
                    &format!("{pointer}/contains"),
                    format!("files: {rel} does not contain `{needle}`"),
                    None,
                ),
                Err(e) => miss(
                    &format!("{pointer}/contains"),
                    format!("files: {rel}: {e}"),
                    None,
                ),
            }
        }
    }
    out
}
