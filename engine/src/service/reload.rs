//! Hot reload of an orchestrator's workflows (docs/contracts.md "Changing a live workflow"):
//! the files are loaded again through the one validation path ([`crate::workflow::Workflow::load`]);
//! a version that does not validate, or cannot be hosted as it is, changes nothing — the error
//! is logged with file:line:col, published as a `WorkflowReloadFailed` system event and counted
//! (`onex_workflow_reloads_total{outcome}`); a valid one is swapped in for new runs while runs in
//! flight finish on the version they started with ([`Orchestrator::reload`]).

use std::path::PathBuf;

use serde_json::json;
use uuid::Uuid;

use crate::contract::executable::EngineKnowledge;
use crate::diag::Diagnostic;
use crate::events::{Component, Envelope, EventStatus, SCHEMA_VERSION};
use crate::service::Orchestrator;
use crate::workflow::{Workflow, WorkflowSet};

/// What asked for the reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    FileChange,
    Sighup,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::FileChange => "file_change",
            Cause::Sighup => "sighup",
        }
    }
}

/// How a reload went.
#[derive(Debug, Clone, PartialEq)]
pub enum Reloaded {
    /// New runs start on these versions.
    Loaded(Vec<String>),
    /// The files are what is served already (an editor's touch, a second event).
    Unchanged,
    /// Nothing changed; why, one `file:line:col CODE message` per problem.
    Failed(Vec<String>),
}

/// One problem as the log line and the event show it.
fn line(d: &Diagnostic) -> (String, String, String) {
    (
        format!("{}:{}:{}", d.path.display(), d.pos.line, d.pos.column),
        d.code.clone(),
        d.message.clone(),
    )
}

/// Loads `files` again and, if they validate and can be hosted together with the same
/// triggers, makes them the versions new runs start on.
pub async fn reload(
    orch: &Orchestrator,
    files: &[PathBuf],
    engine: &dyn EngineKnowledge,
    cause: Cause,
) -> Reloaded {
    let mut loaded = Vec::new();
    let mut problems: Vec<(String, String, String)> = Vec::new();
    for f in files {
        match Workflow::load(f, engine) {
            Ok(w) => loaded.push(w),
            Err(d) => problems.extend(d.iter().map(line)),
        }
    }
    let current = orch.workflows();
    if problems.is_empty() {
        let same = loaded.len() == current.workflows().len()
            && loaded
                .iter()
                .zip(current.workflows())
                .all(|(a, b)| a.id == b.id);
        if same {
            return Reloaded::Unchanged;
        }
        match WorkflowSet::new(loaded) {
            Ok(set) => {
                let ids: Vec<String> = set.workflows().iter().map(|w| w.id.to_string()).collect();
                match orch.reload(set) {
                    Ok(()) => {
                        tracing::warn!(
                            cause = cause.as_str(),
                            "workflows reloaded: new runs start on {}",
                            ids.join(", ")
                        );
                        metrics(true);
                        return Reloaded::Loaded(ids);
                    }
                    Err(e) => problems.push((
                        files
                            .first()
                            .map(|f| format!("{}:1:1", f.display()))
                            .unwrap_or_default(),
                        "ONEX109".into(),
                        e,
                    )),
                }
            }
            Err(d) => problems.extend(d.iter().map(line)),
        }
    }
    let serving: Vec<String> = current
        .workflows()
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    for (at, code, message) in &problems {
        tracing::error!(
            cause = cause.as_str(),
            "workflow reload refused, still serving {}: {at} {code} {message}",
            serving.join(", ")
        );
    }
    metrics(false);
    let event = failed_event(orch.instance(), files, &problems, &serving, cause);
    if let Err(e) = orch.bus().publish(&event).await {
        tracing::warn!("publishing WorkflowReloadFailed: {e}");
    }
    Reloaded::Failed(
        problems
            .into_iter()
            .map(|(at, code, m)| format!("{at} {code} {m}"))
            .collect(),
    )
}

fn metrics(ok: bool) {
    ::metrics::counter!("onex_workflow_reloads_total", "outcome" => if ok { "loaded" } else { "failed" })
        .increment(1);
}

/// The `WorkflowReloadFailed` system event (seq 0: part of no run, like DeadLettered).
fn failed_event(
    instance: &str,
    files: &[PathBuf],
    problems: &[(String, String, String)],
    serving: &[String],
    cause: Cause,
) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: "WorkflowReloadFailed".into(),
        schema_version: SCHEMA_VERSION.into(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        seq: 0,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage: crate::events::catalog::PIPELINE_STAGE.into(),
        status: EventStatus::Failed,
        source: crate::pipeline::run::event_source(Component::Orchestrator),
        trace: crate::pipeline::run::new_trace_context(),
        payload: json!({
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "errors": problems.iter().map(|(at, code, m)| json!({"at": at, "code": code, "message": m})).collect::<Vec<_>>(),
            "serving": serving,
            "trigger": cause.as_str(),
            "orchestrator": instance,
        }),
        workflow: None,
        outcome: None,
    }
}
