//! "Compiles" means "imports against the real omnibase_core" (docs/generation.md §4.9):
//! every generated node type is imported with a Python 3.12 holding the pinned omnibase-core,
//! its class found, instantiated with a real container, and its health_check operation run; mypy
//! (when installed there) reports no issue.
//!
//! The interpreter: `$ONEX_TEST_PY312`, `$ONEX_PYTHON`, else the venv scripts/python-env.sh
//! makes (tests/support/python.rs). Without one the test is skipped with a loud message.

#[path = "../../../tests/support/python.rs"]
mod python;
use python::py312;

mod codegen_common;

use std::process::Command;

use codegen_common::*;
use onex_generation::codegen::TemplatePack;
use onex_generation::prompt::NodeType;

fn skip(why: &str) {
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         SKIPPED: {why}\n\
         set up a Python 3.12 with omnibase-core {}: {}\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        TemplatePack::builtin().symbols().version,
        python::SETUP
    );
}

const IMPORT_AND_RUN: &str = r#"
import asyncio, importlib, importlib.metadata, json, sys
node_dir, class_name, base_name, pin, description = sys.argv[1:6]
description = json.loads(description)
assert sys.version_info >= (3, 12), sys.version
installed = importlib.metadata.version("omnibase-core")
assert installed == pin, f"omnibase-core {installed} installed, pack pinned to {pin}"
node_mod = importlib.import_module(f"{node_dir}.v1_0_0.node")
cls = getattr(node_mod, class_name)
import omnibase_core.nodes as nodes
base = getattr(importlib.import_module(f"omnibase_core.nodes.node_{base_name.lower()[4:]}"), base_name)
assert issubclass(cls, base), cls.__mro__
assert node_mod.DESCRIPTION == description, (node_mod.DESCRIPTION, description)
pkg = importlib.import_module(f"{node_dir}.v1_0_0")
for name in pkg.__all__:
    getattr(pkg, name)
from omnibase_core.models.container.model_onex_container import ModelONEXContainer
from omnibase_core.errors.model_onex_error import ModelOnexError
node = cls(ModelONEXContainer())
Input = pkg.__dict__[[n for n in pkg.__all__ if n.endswith("Input")][0]]
Enum = pkg.__dict__[[n for n in pkg.__all__ if n.endswith("OperationType")][0]]
out = asyncio.run(node.process(Input(operation_type=Enum.HEALTH_CHECK)))
assert out.success and out.result_data["status"] == "healthy", out
first = list(Enum)[0]
try:
    asyncio.run(node.process(Input(operation_type=first)))
except ModelOnexError as e:
    assert "not implemented" in str(e), e
else:
    raise AssertionError("a scaffold operation must raise until implemented")
assert node.get_metrics()["process_count"] == 2
print("ok", class_name)
"#;

#[test]
fn every_node_type_imports_against_the_pinned_omnibase_core() {
    let Some(py) = py312() else {
        skip("no Python 3.12 venv with omnibase-core: the import test did not run");
        return;
    };
    let pin = TemplatePack::builtin().symbols().version.clone();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        for p in [default_prompt(t), {
            let mut p = prompt(t, &["\"\"\" '''", "{{x}} \\ \n"], &[]);
            p.description = "quote \" triple \"\"\" nul \u{0} rtl \u{202e} 🚀".to_string();
            p.service_name = "odd_text".to_string();
            p.node_name = "OddText".to_string();
            p
        }] {
            let node = render(&p);
            write_node(tmp.path(), &node);
            let class = format!("Node{}{}", p.node_name, t.as_capitalised());
            let out = Command::new(&py)
                .arg("-c")
                .arg(IMPORT_AND_RUN)
                .args([
                    &node.dir_name,
                    &class,
                    &format!("Node{}", t.as_capitalised()),
                    &pin,
                    &serde_json::to_string(&p.description).unwrap(),
                ])
                .current_dir(tmp.path())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PYTHONPYCACHEPREFIX", cache.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{t} {}: import failed:\n{}\n{}",
                node.dir_name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn mypy_finds_no_issue_in_generated_nodes() {
    let Some(py) = py312() else {
        skip("no Python 3.12 venv: mypy check did not run");
        return;
    };
    let has_mypy = Command::new(&py)
        .args(["-m", "mypy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_mypy {
        skip("mypy is not installed in the Python 3.12 venv: mypy check did not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // One cache for the four runs: omnibase_core is large and analysed once.
    let cache = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        // As G13 runs it: one node directory at a time.
        let dir = write_node(tmp.path(), &render(&default_prompt(t)));
        let out = Command::new(&py)
            .args([
                "-m",
                "mypy",
                "--ignore-missing-imports",
                "--no-error-summary",
                "--cache-dir",
            ])
            .arg(cache.path())
            .arg(&dir)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{t}: mypy issues:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run_probe(py: &std::path::Path, t: NodeType) -> String {
    let pack = TemplatePack::builtin();
    let symbols = onex_generation::codegen::pack_omnibase_imports(pack, t).unwrap();
    let out = Command::new(py)
        .arg("-c")
        .arg(onex_generation::codegen::g4_probe_script(&symbols))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn g4_live_probe_passes_with_the_pinned_release_and_warns_elsewhere() {
    use onex_generation::codegen::compile::GateStatus;
    use onex_generation::codegen::g4_probe_verdict;
    let pack = TemplatePack::builtin();
    let symbols = onex_generation::codegen::pack_omnibase_imports(pack, NodeType::Reducer).unwrap();
    assert_eq!(symbols.len(), 4);
    assert!(symbols.contains(&"omnibase_core.nodes.node_reducer.NodeReducer".to_string()));

    // The system python3 (3.11, no omnibase_core): a warning, never a fail.
    let out = run_probe(&python3(), NodeType::Effect);
    let v = g4_probe_verdict(pack, NodeType::Effect, &out, "python3");
    assert_eq!(v.status, GateStatus::Warning, "{v:?}");
    assert_eq!(
        v.message,
        format!(
            "Install omnibase-core {} into a Python ≥ 3.12 (python3) to run the generated node",
            pack.symbols().version
        )
    );
    // Garbage output (a crashed interpreter) is a warning too.
    let v = g4_probe_verdict(pack, NodeType::Effect, "Segmentation fault", "py");
    assert_eq!(v.status, GateStatus::Warning);

    let Some(py) = py312() else {
        skip("no Python 3.12 venv: the passing half of the G4 probe test did not run");
        return;
    };
    for t in NodeType::ALL {
        let out = run_probe(&py, t);
        let v = g4_probe_verdict(pack, t, &out, "py312");
        assert_eq!(v.status, GateStatus::Pass, "{t}: {v:?}");
        assert_eq!(v.message, "4 imports known for omnibase-core 0.47.57");
    }
}
