//! Running the shipped node generation workflow in-process for tests.

#![allow(dead_code)]

use onex_engine::events::{Component, Envelope};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{Executor, Handlers, RunRequest, RunResult, Services, VecSink};
use onex_engine::workflow::{Workflow, WorkflowSet};
use onex_generation::{PipelineResult, PromptOptions};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

/// The engine's built-ins and node generation's handlers, as the `onex` binary joins them.
pub fn handlers() -> Handlers {
    Handlers::builtin()
        .with(onex_generation::HANDLERS)
        .expect("unique handler names")
}

pub fn shipped() -> &'static Workflow {
    static W: OnceLock<Workflow> = OnceLock::new();
    W.get_or_init(|| match onex_generation::shipped::generation(&handlers()) {
        Ok(w) => w,
        Err(d) => panic!("shipped contract invalid: {d:#?}"),
    })
}

/// The shipped contract's text, its catalogue path made absolute so an edited copy can live
/// anywhere.
pub fn shipped_text() -> String {
    let path =
        onex_generation::shipped::path(onex_generation::shipped::GENERATION_CONTRACT).unwrap();
    let catalog = path
        .parent()
        .unwrap()
        .join("../../../contracts/pipeline_events.yaml");
    let catalog = catalog.canonicalize().unwrap();
    std::fs::read_to_string(&path).unwrap().replacen(
        "catalog: ../../../contracts/pipeline_events.yaml",
        &format!("catalog: {}", catalog.display()),
        1,
    )
}

/// Loads a workflow contract file (an edited copy of the shipped one …).
pub fn load(path: &Path) -> Result<Workflow, Vec<onex_engine::diag::Diagnostic>> {
    Workflow::load(path, &handlers())
}

pub fn services() -> Services {
    let mut s = Services::default();
    s.fsync = false;
    s
}

pub struct Run {
    /// Node generation's view of the result.
    pub result: PipelineResult,
    /// The engine's result.
    pub run: RunResult,
    pub events: Vec<Envelope>,
}

pub fn options(prompt: &str, out: &Path) -> PromptOptions {
    PromptOptions {
        prompt_text: prompt.into(),
        output_directory: out.to_path_buf(),
        requested_by: "test".into(),
        requested_node_type: None,
        force: false,
        compile: false,
        correlation_id: Uuid::now_v7(),
        request_metadata: serde_json::json!({}),
    }
}

pub async fn run_with(workflow: &Workflow, opts: PromptOptions, services: Services) -> Run {
    run_with_registry(workflow, opts, services, Arc::new(handlers())).await
}

pub async fn run_with_registry(
    workflow: &Workflow,
    opts: PromptOptions,
    services: Services,
    registry: Arc<dyn onex_engine::pipeline::HandlerRegistry>,
) -> Run {
    let trigger = opts.trigger(event_source(Component::Cli));
    let request = RunRequest::new(workflow.id.clone(), trigger.clone(), 1);
    let events = WorkflowSet::new(vec![workflow.clone()])
        .expect("one workflow")
        .events()
        .clone();
    let exec = Executor::new(
        registry,
        Arc::new(services),
        events,
        event_source(Component::Orchestrator),
    );
    let sink = VecSink::default();
    let run = exec
        .run(&workflow.contract, request, &sink)
        .await
        .expect("a VecSink never fails");
    let mut events = vec![trigger];
    events.extend(sink.events());
    Run {
        result: PipelineResult::from(&run),
        run,
        events,
    }
}

pub async fn generate(prompt: &str, out: &Path) -> Run {
    run_with(shipped(), options(prompt, out), services()).await
}

/// Every file under `dir`, relative, with its bytes (sorted).
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let bytes = if e.is_file() {
            std::fs::read(&e).unwrap()
        } else {
            Vec::new()
        };
        out.push((rel, bytes));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        v.push(p.clone());
        if p.is_dir() && !p.is_symlink() {
            v.extend(walk(&p));
        }
    }
    v
}
