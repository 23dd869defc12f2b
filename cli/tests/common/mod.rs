//! Helpers shared by the CLI's process-level tests: brokers from the environment, orchestrator
//! processes, triggers.

#![allow(dead_code)]

use onex_engine::events::{Component, Envelope, EventRegistry};
use onex_engine::pipeline::Handlers;
use onex_engine::pipeline::run::event_source;
use onex_engine::workflow::WorkflowSet;
use onex_generation::PromptOptions;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A test broker's URL from the environment (`scripts/brokers.sh`); `None` (the test says it
/// was skipped) when absent, a failure under `ONEX_REQUIRE_BROKERS=1`.
pub fn broker(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("ONEX_REQUIRE_BROKERS").as_deref() == Ok("1") => {
            panic!(
                "{var} is not set and ONEX_REQUIRE_BROKERS=1: start them with scripts/brokers.sh"
            )
        }
        _ => {
            eprintln!("SKIPPED: {var} not set (run scripts/brokers.sh start)");
            None
        }
    }
}

/// A child process, killed (SIGKILL) on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Short Kafka group timeouts for the orchestrators started in `state` (they read the
/// `onex.toml` of their working directory), so a killed member's partitions move in seconds.
pub fn fast_group_config(state: &Path) {
    std::fs::write(
        state.join("onex.toml"),
        "[bus.kafka]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    )
    .unwrap();
}

/// Starts `onex orchestrator` in `state` writing under `out`; with `wait_ready`, returns once it
/// has its share of the group's work.
pub fn orchestrator(state: &Path, url: &str, prefix: &str, out: &Path, wait_ready: bool) -> Proc {
    orchestrator_with(state, url, prefix, out, wait_ready, 4)
}

/// [`orchestrator`] running `concurrency` runs at once.
pub fn orchestrator_with(
    state: &Path,
    url: &str,
    prefix: &str,
    out: &Path,
    wait_ready: bool,
    concurrency: usize,
) -> Proc {
    orchestrator_hosting(state, url, prefix, out, wait_ready, concurrency, &[])
}

/// [`orchestrator_with`] hosting the workflow contracts `workflows` (default: the shipped ones).
pub fn orchestrator_hosting(
    state: &Path,
    url: &str,
    prefix: &str,
    out: &Path,
    wait_ready: bool,
    concurrency: usize,
    workflows: &[&Path],
) -> Proc {
    let concurrency = concurrency.to_string();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("onex"))
        .args([
            "orchestrator",
            "--concurrency",
            concurrency.as_str(),
            "--bus",
            url,
            "--allowed-root",
        ])
        .arg(out)
        .args(workflows.iter().flat_map(|w| [Path::new("--workflow"), w]))
        .env("ONEX_TOPIC_PREFIX", prefix)
        .env("XDG_STATE_HOME", state)
        .current_dir(state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("ready") {
                let _ = tx.send(());
            }
        }
    });
    if wait_ready {
        rx.recv_timeout(Duration::from_secs(90))
            .expect("orchestrator ready within 90 s");
    }
    Proc(child)
}

/// A PromptSubmitted for a distinct node (`{name}{i}`) under `out`.
pub fn trigger(name: &str, i: usize, out: &Path) -> Envelope {
    let opts = PromptOptions {
        prompt_text: format!(
            "Create EFFECT node called {name}{i} that writes records to PostgreSQL"
        ),
        output_directory: out.to_path_buf(),
        requested_by: "test".into(),
        requested_node_type: None,
        force: false,
        compile: false,
        correlation_id: Uuid::now_v7(),
        request_metadata: serde_json::json!({}),
    };
    opts.trigger(event_source(Component::Cli))
}

/// The event catalogues of the shipped workflows (what `onex` loads by default).
pub fn events() -> Arc<EventRegistry> {
    let handlers = Handlers::builtin().with(onex_generation::HANDLERS).unwrap();
    let load = |rel| onex_generation::shipped::load(rel, &handlers).expect("shipped workflow");
    let set = WorkflowSet::new(vec![
        load(onex_generation::shipped::GENERATION_CONTRACT),
        load(onex_generation::shipped::QUALITY_CONTRACT),
    ])
    .expect("the shipped workflows agree");
    set.events().clone()
}

/// The number of files under `dir`.
pub fn file_count(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count()
}
