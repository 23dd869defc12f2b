//! Validation benchmark: 1,000 contracts (the 13 corpus-like shapes below, cycled) validated
//! from disk through `validate_paths`, the same path as `onex validate`.
//! Run: `cargo bench -p onex-engine --bench validate`. Figures: docs/BENCHMARKS.md.

use std::path::PathBuf;

use onex_engine::contract::{ValidateOptions, validate_paths};

fn main() {
    divan::main();
}

const CV: &str = "contract_version: {major: 1, minor: 0, patch: 0}\n";

/// Representative contracts: a parallel orchestrator DAG, an FSM reducer, an effect, a handler
/// contract, a workflow and a handler-style node.
fn samples() -> Vec<String> {
    let orch = format!(
        "node_type: ORCHESTRATOR_GENERIC\n{CV}fingerprint: \"1.1.0:407e93f3b1d2\"\nworkflow_coordination:\n  version: {{major: 1, minor: 1, patch: 0}}\n  workflow_definition:\n    workflow_metadata:\n      workflow_name: pipeline\n      execution_mode: parallel\n    execution_graph:\n      nodes:\n        - {{node_id: fetch, node_type: EFFECT_GENERIC}}\n        - {{node_id: validate, node_type: COMPUTE_GENERIC, depends_on: [fetch]}}\n        - {{node_id: enrich, node_type: COMPUTE_GENERIC, depends_on: [fetch]}}\n        - {{node_id: aggregate, node_type: REDUCER_GENERIC, depends_on: [validate, enrich]}}\n        - {{node_id: persist, node_type: EFFECT_GENERIC, depends_on: [aggregate]}}\n      edges:\n        - {{from_node: fetch, to_node: validate, edge_type: data_flow}}\n        - {{from_node: fetch, to_node: enrich, edge_type: data_flow}}\n        - {{from_node: validate, to_node: aggregate, edge_type: data_flow}}\n        - {{from_node: enrich, to_node: aggregate, edge_type: data_flow}}\n        - {{from_node: aggregate, to_node: persist, edge_type: data_flow}}\n    coordination_rules:\n      failure_recovery_strategy: retry\n      timeout_ms: 300000\n"
    );
    let fsm = format!(
        "node_type: REDUCER_GENERIC\n{CV}state_transitions:\n  initial_state: empty\n  states:\n    - {{state_name: empty}}\n    - {{state_name: loading}}\n    - {{state_name: ready}}\n    - {{state_name: error}}\n  transitions:\n    - {{transition_name: load, from_state: empty, to_state: loading, trigger: go, conditions: [{{expression: sources min_length 1}}]}}\n    - {{transition_name: done, from_state: loading, to_state: ready, trigger: ok}}\n    - {{transition_name: fail, from_state: loading, to_state: error, trigger: ko}}\n    - {{transition_name: retry, from_state: error, to_state: loading, trigger: retry, conditions: [{{expression: retry_count less_than 3}}]}}\n  error_states: [error]\n"
    );
    let effect = format!(
        "node_type: effect\n{CV}effect_operations:\n  execution_mode: sequential_abort\n  operations:\n    - operation_name: create\n      io_config: {{handler_type: http, method: POST, url_template: \"https://x/y\"}}\n      retry_policy: {{max_retries: 3, backoff_strategy: exponential, jitter_factor: 0.1}}\n"
    );
    let handler = format!(
        "handler_id: effect.database.repo\nname: Repo\n{CV}descriptor:\n  node_archetype: effect\n  purity: side_effecting\n  concurrency_policy: serialized\ninput_model: app.models.ModelRepoRequest\noutput_model: app.models.ModelRepoResult\n"
    );
    let workflow = format!(
        "workflow_id: scan\n{CV}node_type: workflow\ninitial_command: onex.cmd.core.scan-requested.v1\nterminal_event: onex.evt.core.scan-completed.v1\nnodes: [scanner, reporter]\nevent_flow:\n  - {{source: initial_command, target: scanner, topic: onex.cmd.core.scan-requested.v1}}\n  - {{source: scanner, target: reporter, topic: onex.evt.core.scan-done.v1}}\n  - {{source: reporter, target: terminal, topic: onex.evt.core.scan-completed.v1}}\n"
    );
    let dnode = format!(
        "name: scan_node\n{CV}node_type: compute\nnode_version: {{major: 1, minor: 0, patch: 0}}\nhandler_routing:\n  default_handler: handler:Scan\ndescriptor:\n  node_archetype: compute\n  purity: pure\nevent_bus:\n  subscribe_topics: [onex.cmd.core.scan-requested.v1]\n  publish_topics: [onex.evt.core.scan-done.v1]\n"
    );
    vec![orch, fsm, effect, handler, workflow, dnode]
}

fn corpus_dir(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let s = samples();
    for i in 0..n {
        let sub = dir.path().join(format!("node_{:04}", i));
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("contract.yaml"), &s[i % s.len()]).unwrap();
    }
    let p = dir.path().to_path_buf();
    (dir, p)
}

#[divan::bench(sample_count = 20)]
fn validate_1000_contracts(bencher: divan::Bencher) {
    let (_keep, dir) = corpus_dir(1000);
    // Compile the schemas once outside the measurement, as a long-running engine would.
    let _ = validate_paths(
        std::slice::from_ref(&dir),
        &ValidateOptions::default(),
        None,
    )
    .unwrap();
    bencher.bench(|| {
        let r = validate_paths(
            std::slice::from_ref(&dir),
            &ValidateOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!(r.files.len(), 1000);
        assert_eq!(r.errors() + r.warnings(), 0);
        r
    });
}
