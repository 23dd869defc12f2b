//! One full generation in-process (stages 1–5, `--no-compile`): on tmpfs, and on the real disk
//! with fsync on. `cargo bench -p onex-generation --bench generate`; figures in docs/BENCHMARKS.md.

use onex_engine::events::{Component, EventRegistry};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{Executor, Handlers, RunRequest, Services, VecSink};
use onex_engine::workflow::{Workflow, WorkflowSet};
use onex_generation::PromptOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

fn main() {
    divan::main();
}

fn handlers() -> Handlers {
    Handlers::builtin().with(onex_generation::HANDLERS).unwrap()
}

fn workflow() -> &'static Workflow {
    static W: OnceLock<Workflow> = OnceLock::new();
    W.get_or_init(|| onex_generation::shipped::generation(&handlers()).expect("shipped contract"))
}

fn events() -> Arc<EventRegistry> {
    WorkflowSet::new(vec![workflow().clone()])
        .unwrap()
        .events()
        .clone()
}

fn run_once(rt: &tokio::runtime::Runtime, exec: &Executor, out: &Path) {
    let opts = PromptOptions {
        prompt_text: "Create EFFECT node called OrderWriter in the orders domain that writes orders to PostgreSQL".into(),
        output_directory: out.to_path_buf(),
        requested_by: "bench".into(),
        requested_node_type: None,
        force: false,
        compile: false,
        correlation_id: Uuid::now_v7(),
        request_metadata: serde_json::json!({}),
    };
    let trigger = opts.trigger(event_source(Component::Cli));
    let request = RunRequest::new(workflow().id.clone(), trigger, 1);
    let sink = VecSink::default();
    let r = rt
        .block_on(exec.run(&workflow().contract, request, &sink))
        .unwrap();
    assert!(r.success(), "{}", r.summary());
}

fn bench_in(bencher: divan::Bencher, base: &Path, fsync: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut services = Services::default();
    services.fsync = fsync;
    let exec = Executor::new(
        Arc::new(handlers()),
        Arc::new(services),
        events(),
        event_source(Component::Orchestrator),
    );
    let root = tempfile::tempdir_in(base).unwrap();
    run_once(&rt, &exec, &root.path().join("warm-up"));
    bencher
        .with_inputs(|| -> PathBuf { root.path().join(Uuid::now_v7().simple().to_string()) })
        .bench_local_refs(|out| run_once(&rt, &exec, out));
}

/// tmpfs: the in-memory work (fsync is a no-op there).
#[divan::bench(sample_count = 200)]
fn generation_tmpfs(bencher: divan::Bencher) {
    bench_in(bencher, Path::new("/dev/shm"), true);
}

/// The real disk, with fsync of the 12 files and their directories.
#[divan::bench(sample_count = 100)]
fn generation_disk_fsync(bencher: divan::Bencher) {
    bench_in(bencher, Path::new("/var/tmp"), true);
}
