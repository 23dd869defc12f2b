//! End to end through this area: real generated nodes (prompt → parse → render) are staged and
//! placed by `codegen::output`, then G14 imports each node type against the real omnibase_core
//! and G13 type-checks one — the node dir unchanged afterwards. Needs the project's Python 3.12
//! (tests/support/python.rs finds it); says SKIPPED without it.

#[path = "../../../tests/support/python.rs"]
mod python;
use python::py312;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use onex_generation::codegen::compile::{
    CompilationStatus, CompileOptions, GateStatus, PythonEnv, compilation_summary, g13_mypy_with,
    g14_import_with,
};
use onex_generation::codegen::output::{self, Staging, StagingOptions, g6_check};
use onex_generation::codegen::{RenderInput, TemplatePack, render_node};
use onex_generation::prompt::{self, NodeType, naming};
use uuid::Uuid;

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            (
                rel,
                e.file_type().is_file().then(|| fs::read(e.path()).unwrap()),
            )
        })
        .collect()
}

/// Renders `prompt` and places the node under `out` the way the pipeline does; returns the node
/// dir and its class name.
fn generate(out: &Path, prompt: &str, t: NodeType) -> (PathBuf, String) {
    let parsed = prompt::parse(prompt, Some(t)).unwrap();
    let cid = Uuid::new_v4();
    let pack = TemplatePack::builtin();
    let node = render_node(
        &RenderInput {
            parsed: &parsed,
            correlation_id: cid,
            run_started_at: jiff::Timestamp::now(),
            engine_version: onex_engine::ENGINE_VERSION,
        },
        pack,
        &mut |_| {},
    )
    .unwrap();
    let plan = output::plan(out, &node.dir_name, cid, false, &[out.to_path_buf()]).unwrap();
    assert!(g6_check(&plan).passed());
    let mut st = Staging::create(&plan, StagingOptions::default()).unwrap();
    let files: Vec<(&str, &[u8])> = node
        .files
        .iter()
        .map(|f| (f.rel_path.as_str(), f.bytes.as_slice()))
        .collect();
    st.write_files(&files, |_| {}).unwrap();
    let placed = st.place().unwrap();
    drop(st);
    assert_eq!(placed.files.len(), 12);
    (
        placed.node_dir,
        naming::node_class(&parsed.node_name, parsed.node_type),
    )
}

#[tokio::test]
async fn generated_nodes_of_every_type_import_and_type_check() {
    let Some(py) = py312() else { return };
    let opts = CompileOptions {
        omnibase_core_version: TemplatePack::builtin().symbols().version.clone(),
        // A cold mypy run over omnibase_core takes ~20 s here; allow for a loaded test run.
        mypy_timeout: Duration::from_secs(240),
        ..CompileOptions::default()
    };
    let env = PythonEnv::probe_with(Some(&py), &opts).await;
    assert!(
        env.has_omnibase_core && env.version == Some((3, 12)),
        "{env:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let prompts = [
        (
            NodeType::Effect,
            "Create EFFECT node called OrderWriter for database writes",
        ),
        (
            NodeType::Compute,
            "Build a compute node named PriceCalculator that calculates totals",
        ),
        (
            NodeType::Reducer,
            "REDUCER node called MetricsAggregator: aggregate metrics",
        ),
        (
            NodeType::Orchestrator,
            "ORCHESTRATOR node named CheckoutFlow coordinates the workflow",
        ),
    ];
    for (i, (t, prompt)) in prompts.into_iter().enumerate() {
        let (node_dir, class) = generate(&out, prompt, t);
        let before = snapshot(tmp.path());
        let g14 = g14_import_with(&env, &node_dir, &class, &opts).await;
        assert_eq!(g14.status, GateStatus::Pass, "{t}: {g14:?}");
        assert_eq!(g14.message, format!("9 files compile; {class} imports"));
        let mut gates = vec![g14];
        // mypy once (the slow one): it runs, whatever it thinks of the stubs.
        if i == 0 {
            let g13 = g13_mypy_with(&env, &node_dir, &opts).await;
            assert!(
                matches!(g13.status, GateStatus::Pass | GateStatus::Warning),
                "{g13:?}"
            );
            if g13.status == GateStatus::Warning {
                assert!(g13.message.starts_with("mypy: "), "{}", g13.message);
                eprintln!("note: mypy on a generated {t} node: {}", g13.message);
            }
            gates.insert(0, g13);
        }
        let summary = compilation_summary(&gates);
        assert!(summary.import_passed);
        assert_ne!(summary.compilation_status, CompilationStatus::Skipped);
        assert_eq!(
            snapshot(tmp.path()),
            before,
            "{t}: the gates wrote into the output"
        );
    }
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        4,
        "4 node dirs, no staging left"
    );
}
