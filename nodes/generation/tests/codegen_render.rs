//! Rendering a node (docs/generation.md §4.1–4.7): the 12 files for every node type, their
//! validity (in-process parser, `python3 -m py_compile`, `onex validate`), the gates G4, G5,
//! G9–G12 on good output, escaping of adversarial prompt text, determinism and the manifest's
//! hash and uuid.

mod codegen_common;

use std::process::Command;

use codegen_common::*;
use onex_generation::codegen::compile::GateStatus;
use onex_generation::codegen::{
    RenderErrorCode, RenderInput, TemplatePack, g4_imports_known, g5_templates, g9_syntax,
    g10_naming, g11_imports, g12_models, node_hash, planned_files, render_node,
};
use onex_generation::prompt::NodeType;
use serde_json::Value;

const EXPECTED_EFFECT_PATHS: [&str; 12] = [
    "node.manifest.yaml",
    "v1_0_0/__init__.py",
    "v1_0_0/node.py",
    "v1_0_0/contract.yaml",
    "v1_0_0/version.manifest.yaml",
    "v1_0_0/models/__init__.py",
    "v1_0_0/models/model_postgres_writer_input.py",
    "v1_0_0/models/model_postgres_writer_output.py",
    "v1_0_0/models/model_postgres_writer_config.py",
    "v1_0_0/models/model_postgres_writer_effect_contract.py",
    "v1_0_0/enums/__init__.py",
    "v1_0_0/enums/enum_postgres_writer_operation_type.py",
];

fn yaml(node: &onex_generation::codegen::RenderedNode, rel: &str) -> Value {
    serde_saphyr::from_str(&text(node, rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_type_renders_the_12_files_in_spec_order() {
    for t in NodeType::ALL {
        let node = render(&default_prompt(t));
        assert_eq!(
            node.dir_name,
            format!("node_infrastructure_postgres_writer_{}", t.as_lower())
        );
        let want: Vec<String> = EXPECTED_EFFECT_PATHS
            .iter()
            .map(|p| p.replace("_effect_contract", &format!("_{}_contract", t.as_lower())))
            .collect();
        assert_eq!(paths(&node), want, "{t}");
        assert_eq!(planned_files(&default_prompt(t)), want, "{t}");
        for f in &node.files {
            use sha2::Digest;
            assert_eq!(
                f.sha256,
                hex::encode(sha2::Sha256::digest(&f.bytes)),
                "{}",
                f.rel_path
            );
            assert!(!f.bytes.is_empty(), "{}", f.rel_path);
        }
        let node_py = text(&node, "v1_0_0/node.py");
        let class = format!(
            "class NodePostgresWriter{}(Node{})",
            t.as_capitalised(),
            t.as_capitalised()
        );
        assert!(
            node_py.contains(&class),
            "{t}: {class} missing in\n{node_py}"
        );
        assert!(node_py.contains(&format!(
            "from omnibase_core.nodes.node_{} import Node{}",
            t.as_lower(),
            t.as_capitalised()
        )));
        assert!(
            !node_py.contains("{{") && !node_py.contains("{%"),
            "{t}: template syntax left"
        );
    }
}

#[test]
fn on_file_sees_every_file_once_manifest_last() {
    let p = default_prompt(NodeType::Reducer);
    let mut seen = Vec::new();
    let input = RenderInput {
        parsed: &p,
        correlation_id: CORRELATION.parse().unwrap(),
        run_started_at: started_at(),
        engine_version: "0.1.0",
    };
    let node = render_node(&input, TemplatePack::builtin(), &mut |f| {
        seen.push(f.clone())
    })
    .unwrap();
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.last().unwrap().rel_path, "node.manifest.yaml");
    let mut a: Vec<_> = seen.iter().map(|f| (&f.rel_path, &f.sha256)).collect();
    let mut b: Vec<_> = node
        .files
        .iter()
        .map(|f| (&f.rel_path, &f.sha256))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn gates_pass_on_generated_nodes_of_every_type() {
    let pack = TemplatePack::builtin();
    let tmp = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        let p = default_prompt(t);
        let node = render(&p);
        let dir = write_node(tmp.path(), &node);
        let g4 = g4_imports_known(pack, t);
        assert_eq!(g4.status, GateStatus::Pass, "{t}: {g4:?}");
        assert_eq!(g4.message, "4 imports known for omnibase-core 0.47.57");
        let g5 = g5_templates(pack, t);
        assert_eq!(g5.message, format!("Templates for {t} available"));
        let g9 = g9_syntax(&node.files, &onex_validate(&dir));
        assert_eq!(g9.status, GateStatus::Pass, "{t}: {g9:?}");
        assert_eq!(g9.message, "9 .py and 3 .yaml valid");
        let g10 = g10_naming(&node.files, &p);
        assert_eq!(g10.message, "Names follow ONEX conventions", "{t}: {g10:?}");
        let g11 = g11_imports(&node.files, pack);
        assert_eq!(g11.status, GateStatus::Pass, "{t}: {g11:?}");
        assert!(g11.message.ends_with(" imports resolve"), "{}", g11.message);
        let g12 = g12_models(&node.files);
        assert_eq!(g12.message, "4 model files valid", "{t}: {g12:?}");
        // The same checks over the files read back from disk.
        let from_disk = onex_generation::codegen::files_from_dir(&dir).unwrap();
        assert_eq!(from_disk.len(), 12);
        assert!(g12_models(&from_disk).is_pass() && g10_naming(&from_disk, &p).is_pass());
    }
}

#[test]
fn every_python_file_passes_py_compile() {
    let py = python3();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        let node = render(&default_prompt(t));
        let dir = write_node(tmp.path(), &node);
        let pys: Vec<_> = node
            .files
            .iter()
            .filter(|f| f.rel_path.ends_with(".py"))
            .map(|f| dir.join(&f.rel_path))
            .collect();
        assert_eq!(pys.len(), 9);
        let out = Command::new(&py)
            .arg("-m")
            .arg("py_compile")
            .args(&pys)
            .env("PYTHONPYCACHEPREFIX", cache.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{t}: py_compile failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn yaml_files_are_clean_under_onex_validate_and_carry_the_spec_fields() {
    let tmp = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        let p = default_prompt(t);
        let node = render(&p);
        let dir = write_node(tmp.path(), &node);
        for rel in [
            "node.manifest.yaml",
            "v1_0_0/contract.yaml",
            "v1_0_0/version.manifest.yaml",
        ] {
            let problems = onex_validate(&dir)(rel, &file(&node, rel).bytes);
            assert!(problems.is_empty(), "{t} {rel}: {problems:?}");
        }
        let c = yaml(&node, "v1_0_0/contract.yaml");
        assert!(
            c.get("version").is_none(),
            "legacy dialect without top-level version"
        );
        assert_eq!(c["node_name"], format!("postgres_writer_{}", t.as_lower()));
        assert_eq!(
            c["contract_name"],
            format!("postgres_writer_{}_contract", t.as_lower())
        );
        assert_eq!(c["node_type"], t.as_upper());
        assert_eq!(c["input_model"]["name"], "ModelPostgresWriterInput");
        assert_eq!(
            c["tool_specification"]["main_tool_class"],
            format!("NodePostgresWriter{}", t.as_capitalised())
        );
        let actions: Vec<&str> = c["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["insert_order_rows", "update_order_status", "health_check"]
        );
        assert_eq!(c["dependencies"][0]["class_name"], "ProtocolPostgreSQL");
        assert_eq!(c["dependencies"][1]["class_name"], "ProtocolKafka");
        assert_eq!(c["algorithm"].is_object(), t == NodeType::Compute);
        assert_eq!(
            c["event_type"]["publish_events"].is_boolean(),
            t != NodeType::Compute
        );
        assert_eq!(c["metadata"]["generated_by"]["correlation_id"], CORRELATION);

        let m = yaml(&node, "node.manifest.yaml");
        assert_eq!(m["name"], node.dir_name);
        assert_eq!(m["entrypoint"]["target"], "v1_0_0/node.py");
        assert_eq!(m["created_at"], "2026-11-28T02:39:48.123Z");
        assert_eq!(
            m["x_extensions"]["generated_by"]["correlation_id"],
            CORRELATION
        );
        let caps: Vec<&str> = m["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(caps.len(), 4);
        let protocols = m["protocols_supported"].as_array().unwrap().len();
        assert_eq!(
            protocols,
            match t {
                NodeType::Compute => 1,
                NodeType::Orchestrator => 3,
                _ => 2,
            }
        );

        let v = yaml(&node, "v1_0_0/version.manifest.yaml");
        assert_eq!(v["release_date"], "2026-11-28");
        assert_eq!(v["api_surface"]["primary_entry_point"], "process");
        assert_eq!(
            v["implementation"]["model_files"].as_array().unwrap().len(),
            4
        );
        // Every file a manifest names exists (docs/generation.md §4.1: nothing referenced without being generated).
        for key in ["contract_file", "main_implementation", "module_init"] {
            let rel = format!("v1_0_0/{}", v["implementation"][key].as_str().unwrap());
            file(&node, &rel);
        }
        for list in ["model_files", "enum_files", "contract_files"] {
            for f in v["implementation"][list].as_array().unwrap() {
                file(&node, &format!("v1_0_0/{}", f.as_str().unwrap()));
            }
        }
    }
}

#[test]
fn manifest_hash_and_uuid_follow_the_spec() {
    let node = render(&default_prompt(NodeType::Effect));
    let m = yaml(&node, "node.manifest.yaml");
    let others: Vec<_> = node
        .files
        .iter()
        .filter(|f| f.rel_path != "node.manifest.yaml")
        .cloned()
        .collect();
    assert_eq!(others.len(), 11);
    // sha256 over (path, NUL, bytes) of the sorted files, computed independently here.
    let mut sorted = others.clone();
    sorted.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    let mut buf = Vec::new();
    for f in &sorted {
        buf.extend_from_slice(f.rel_path.as_bytes());
        buf.push(0);
        buf.extend_from_slice(&f.bytes);
    }
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(&buf));
    assert_eq!(m["hash"], want);
    assert_eq!(node_hash(&others), want);
    let uuid = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("onex:{CORRELATION}:{}", node.dir_name).as_bytes(),
    );
    assert_eq!(m["uuid"], uuid.to_string());
}

/// Removes the run-dependent fields of docs/generation.md §4.6 from a YAML tree.
fn strip_volatile(v: &mut Value) {
    if let Value::Object(map) = v {
        for k in [
            "uuid",
            "created_at",
            "last_modified_at",
            "release_date",
            "correlation_id",
            "hash",
        ] {
            map.remove(k);
        }
        for (_, child) in map.iter_mut() {
            strip_volatile(child);
        }
    } else if let Value::Array(items) = v {
        items.iter_mut().for_each(strip_volatile);
    }
}

#[test]
fn rendering_is_deterministic_except_run_dependent_fields() {
    for t in NodeType::ALL {
        let p = default_prompt(t);
        let a = render(&p);
        let b = render(&p);
        assert_eq!(a, b, "{t}: same input, different bytes");
        let c = render_with(
            &p,
            "0192f0c4-0000-7000-8000-000000000001".parse().unwrap(),
            "2027-01-02T03:04:05Z".parse().unwrap(),
        );
        for (fa, fc) in a.files.iter().zip(&c.files) {
            assert_eq!(fa.rel_path, fc.rel_path);
            if fa.rel_path.ends_with(".py") {
                assert_eq!(
                    fa.bytes, fc.bytes,
                    "{t}: {} depends on the run",
                    fa.rel_path
                );
            } else {
                assert_ne!(
                    fa.bytes, fc.bytes,
                    "{}: no run-dependent field?",
                    fa.rel_path
                );
                let mut va: Value = serde_saphyr::from_slice(&fa.bytes).unwrap();
                let mut vc: Value = serde_saphyr::from_slice(&fc.bytes).unwrap();
                strip_volatile(&mut va);
                strip_volatile(&mut vc);
                assert_eq!(
                    va, vc,
                    "{t}: {} differs beyond docs/generation.md §4.6 fields",
                    fa.rel_path
                );
            }
        }
    }
}

#[test]
fn compute_with_no_requirement_gets_process_and_health_check() {
    let p = prompt(NodeType::Compute, &[], &[]);
    let node = render(&p);
    let e = text(&node, "v1_0_0/enums/enum_postgres_writer_operation_type.py");
    assert!(
        e.contains("    PROCESS = \"process\"\n    HEALTH_CHECK = \"health_check\"\n"),
        "{e}"
    );
    let c = yaml(&node, "v1_0_0/contract.yaml");
    assert_eq!(c["dependencies"], serde_json::json!([]));
    assert_eq!(
        c["service_configuration"]["requires_external_dependencies"],
        false
    );
    let node_py = text(&node, "v1_0_0/node.py");
    assert!(
        node_py.contains("REQUIREMENTS: tuple[str, ...] = (\n)\n"),
        "{node_py}"
    );
    assert!(g9_syntax(&node.files, &|_, _| Vec::new()).is_pass());
}

#[test]
fn invalid_identifiers_are_refused_not_rendered() {
    type Mutation = fn(&mut onex_generation::prompt::ParsedPrompt);
    let cases: [(&str, Mutation); 6] = [
        ("service_name", |p| p.service_name = "Bad-Name".into()),
        ("service_name", |p| {
            p.service_name = "x\"; import os #".into()
        }),
        ("domain", |p| p.domain = "".into()),
        ("domain", |p| p.domain = "a".repeat(65)),
        ("node_name", |p| p.node_name = "lowercase".into()),
        ("node_name", |p| p.node_name = "Node\u{202e}Evil".into()),
    ];
    for (field, mutate) in cases {
        let mut p = default_prompt(NodeType::Effect);
        mutate(&mut p);
        let input = RenderInput {
            parsed: &p,
            correlation_id: CORRELATION.parse().unwrap(),
            run_started_at: started_at(),
            engine_version: "0.1.0",
        };
        let mut calls = 0;
        let err = render_node(&input, TemplatePack::builtin(), &mut |_| calls += 1).unwrap_err();
        assert_eq!(err.code, RenderErrorCode::ContextInvalid);
        assert_eq!(err.code.as_str(), "CONTEXT_INVALID");
        assert!(err.message.contains(field), "{field}: {}", err.message);
        assert_eq!(calls, 0);
        assert_eq!(g10_naming(&[], &p).status, GateStatus::Fail);
    }
    let mut p = default_prompt(NodeType::Effect);
    p.domain = "d".repeat(64);
    p.service_name = "s".repeat(64);
    let input = RenderInput {
        parsed: &p,
        correlation_id: CORRELATION.parse().unwrap(),
        run_started_at: started_at(),
        engine_version: "0.1.0",
    };
    let err = render_node(&input, TemplatePack::builtin(), &mut |_| {}).unwrap_err();
    assert!(err.message.contains("node directory"), "{}", err.message);
}
