//! One full generation in-process (stages 1–5, `--no-compile`): on tmpfs, and on the real disk
//! with fsync on. `cargo bench -p onex-handlers --bench generate`; figures in docs/BENCHMARKS.md.

use onex_engine::events::{Component, EventCatalog};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{Executor, PromptOptions, RunRequest, Services, VecSink};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

fn main() {
    divan::main();
}

fn contract() -> &'static onex_engine::contract::executable::ExecutableContract {
    static C: OnceLock<onex_engine::contract::executable::ExecutableContract> = OnceLock::new();
    C.get_or_init(|| onex_handlers::shipped_contract().expect("shipped contract"))
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
    let trigger = RunRequest::prompt_submitted(&opts, event_source(Component::Cli));
    let request = RunRequest::from_trigger(trigger).unwrap();
    let sink = VecSink::default();
    let r = rt.block_on(exec.run(contract(), request, &sink)).unwrap();
    assert!(r.success(), "{}", r.summary());
}

fn bench_in(bencher: divan::Bencher, base: &Path, fsync: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exec = Executor::new(
        Arc::new(onex_handlers::Registry),
        Arc::new(Services {
            fsync,
            ..Default::default()
        }),
        EventCatalog::shipped(),
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
