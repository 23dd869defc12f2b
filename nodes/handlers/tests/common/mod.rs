//! Running the shipped pipeline in-process for tests.

#![allow(dead_code)]

use onex_engine::contract::executable::ExecutableContract;
use onex_engine::events::{Component, Envelope, EventCatalog};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{
    Executor, PipelineResult, PromptOptions, RunRequest, Services, VecSink,
};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

pub fn shipped() -> &'static ExecutableContract {
    static C: OnceLock<ExecutableContract> = OnceLock::new();
    C.get_or_init(|| match onex_handlers::shipped_contract() {
        Ok(c) => c,
        Err(d) => panic!("shipped contract invalid: {d:#?}"),
    })
}

pub fn services() -> Services {
    Services {
        fsync: false,
        ..Default::default()
    }
}

pub struct Run {
    pub result: PipelineResult,
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

pub async fn run_with(
    contract: &ExecutableContract,
    opts: PromptOptions,
    services: Services,
) -> Run {
    run_with_registry(contract, opts, services, Arc::new(onex_handlers::Registry)).await
}

pub async fn run_with_registry(
    contract: &ExecutableContract,
    opts: PromptOptions,
    services: Services,
    registry: Arc<dyn onex_engine::pipeline::HandlerRegistry>,
) -> Run {
    let trigger = RunRequest::prompt_submitted(&opts, event_source(Component::Cli));
    let request = RunRequest::from_trigger(trigger.clone()).expect("valid trigger");
    let exec = Executor::new(
        registry,
        Arc::new(services),
        EventCatalog::shipped(),
        event_source(Component::Orchestrator),
    );
    let sink = VecSink::default();
    let result = exec
        .run(contract, request, &sink)
        .await
        .expect("a VecSink never fails");
    let mut events = vec![trigger];
    events.extend(sink.events());
    Run { result, events }
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
