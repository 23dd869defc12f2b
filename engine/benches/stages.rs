//! Engine overhead per stage and per expression gate: contracts of N no-op stages (an
//! `outputs:` constant each, a chain), with and without one expression gate per stage, run
//! through the executor into an in-memory sink; and validation of the same contracts.
//! Run: `cargo bench -p onex-engine --bench stages`. Figures: docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::sync::Arc;

use onex_engine::events::Component;
use onex_engine::pipeline::run::{event_source, trigger_envelope};
use onex_engine::pipeline::{Executor, Handlers, RunRequest, Services, VecSink};
use onex_engine::workflow::{Workflow, WorkflowSet};
use serde_json::json;
use uuid::Uuid;

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [10, 100, 1000];

/// The contract text: `n` stages `s0 → s1 → …`, each `outputs: {v: 1}`, with `gates` one
/// expression gate reading the stage's own output.
fn contract_text(n: usize, gates: bool) -> String {
    let nodes: Vec<_> = (0..n)
        .map(|i| {
            let deps = if i == 0 {
                json!([])
            } else {
                json!([format!("s{}", i - 1)])
            };
            json!({"node_id": format!("s{i}"), "node_type": "COMPUTE_GENERIC", "depends_on": deps})
        })
        .collect();
    let stages: Vec<_> = (0..n)
        .map(|i| {
            let mut s = json!({"id": format!("s{i}"), "outputs": {"v": "1"}});
            if gates {
                s["gates"] = json!([{"id": format!("g{i}"), "name": "One", "type": "BLOCKING",
                    "expression": format!("s{i}.v == 1"), "fail_message": "not one",
                    "error_code": "CHK", "recovery_suggestions": ["none"]}]);
            }
            s
        })
        .collect();
    let doc = json!({
        "contract_version": {"major": 1, "minor": 0, "patch": 0},
        "name": "bench_orchestrator", "node_type": "ORCHESTRATOR_GENERIC",
        "workflow_coordination": {"workflow_definition": {
            "workflow_metadata": {"workflow_name": "bench", "execution_mode": "sequential"},
            "execution_graph": {"nodes": nodes}}},
        "onex": {"catalog": "test_events.yaml", "triggers": ["JobSubmitted"],
                 "run_timeout_ms": 600_000, "stages": stages},
    });
    serde_json::to_string(&doc).unwrap()
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/workflows/bench.yaml")
}

fn workflow(n: usize, gates: bool) -> Workflow {
    Workflow::load_str(&path(), &contract_text(n, gates), &Handlers::builtin())
        .unwrap_or_else(|d| panic!("bench contract invalid: {d:#?}"))
}

fn bench_run(bencher: divan::Bencher, n: usize, gates: bool) {
    let w = workflow(n, gates);
    let events = WorkflowSet::new(vec![w.clone()]).unwrap().events().clone();
    let exec = Executor::new(
        Arc::new(Handlers::builtin()),
        Arc::new(Services::default()),
        events,
        event_source(Component::Orchestrator),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    bencher.bench_local(|| {
        let trigger = trigger_envelope(
            "JobSubmitted",
            json!({"job": "bench"}),
            Uuid::now_v7(),
            event_source(Component::Cli),
        );
        let request = RunRequest::new(w.id.clone(), trigger, 1);
        let sink = VecSink::default();
        let r = rt.block_on(exec.run(&w.contract, request, &sink)).unwrap();
        assert!(r.success(), "{:?}", r.failure);
        sink
    });
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn run_noop_stages(bencher: divan::Bencher, n: usize) {
    bench_run(bencher, n, false);
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn run_stages_with_a_gate(bencher: divan::Bencher, n: usize) {
    bench_run(bencher, n, true);
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn validate_stages_with_a_gate(bencher: divan::Bencher, n: usize) {
    let text = contract_text(n, true);
    bencher.bench_local(|| {
        Workflow::load_str(&path(), &text, &Handlers::builtin()).map_err(|d| d.len())
    });
}
