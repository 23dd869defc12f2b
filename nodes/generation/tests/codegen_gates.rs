//! Every gate of the codegen area fails (or warns) on a deliberately broken input, with the docs/generation.md §2
//! message and a position: G4 and G5 on broken template packs, G9–G12 on broken files.

mod codegen_common;

use std::path::Path;

use codegen_common::*;
use onex_generation::codegen::compile::GateStatus;
use onex_generation::codegen::{
    RenderErrorCode, RenderInput, RenderedFile, RenderedNode, TemplatePack, g4_imports_known,
    g5_templates, g9_syntax, g10_naming, g11_imports, g12_models, render_node,
};
use onex_generation::prompt::NodeType;

/// The effect node with `from` replaced by `to` in file `rel` (which must contain it).
fn edited(rel: &str, from: &str, to: &str) -> Vec<RenderedFile> {
    let node = render(&default_prompt(NodeType::Effect));
    edit(&node, rel, from, to)
}

fn edit(node: &RenderedNode, rel: &str, from: &str, to: &str) -> Vec<RenderedFile> {
    node.files
        .iter()
        .map(|f| {
            if f.rel_path != rel {
                return f.clone();
            }
            let s = String::from_utf8(f.bytes.clone()).unwrap();
            assert!(s.contains(from), "{rel} lacks {from:?}");
            RenderedFile::new(rel, s.replacen(from, to, 1).into_bytes())
        })
        .collect()
}

const NODE_PY: &str = "v1_0_0/node.py";
const INPUT_PY: &str = "v1_0_0/models/model_postgres_writer_input.py";
const OUTPUT_PY: &str = "v1_0_0/models/model_postgres_writer_output.py";

fn no_yaml_problems(_: &str, _: &[u8]) -> Vec<String> {
    Vec::new()
}

// ------------------------------------------------------------------------------------- G9

#[test]
fn g9_fails_on_python_syntax_error_with_position() {
    let files = edited(
        NODE_PY,
        "    def _validate_input(self",
        "    def _validate_input(:self",
    );
    let v = g9_syntax(&files, &no_yaml_problems);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(v.message.starts_with("v1_0_0/node.py:"), "{}", v.message);
    assert!(v.message.contains(": syntax error: "), "{}", v.message);
    let line = v.details["line"].as_u64().unwrap();
    assert!(
        v.details["excerpt"]
            .as_str()
            .unwrap()
            .contains("def _validate_input(:self")
    );
    assert!(
        v.message.starts_with(&format!("v1_0_0/node.py:{line}:")),
        "{}",
        v.message
    );
}

#[test]
fn g9_fails_on_unterminated_string_and_non_utf8() {
    let files = edited(
        INPUT_PY,
        "\"Operation parameters\"",
        "\"Operation parameters",
    );
    assert_eq!(
        g9_syntax(&files, &no_yaml_problems).status,
        GateStatus::Fail
    );
    let mut files = render(&default_prompt(NodeType::Effect)).files;
    files[1] = RenderedFile::new("v1_0_0/__init__.py", vec![0xff, 0xfe, b'x']);
    let v = g9_syntax(&files, &no_yaml_problems);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(
        v.message
            .contains("v1_0_0/__init__.py:1:1: syntax error: not UTF-8"),
        "{}",
        v.message
    );
}

#[test]
fn g9_fails_on_python_newer_than_312() {
    // PEP 758 (3.14) syntax is refused: the node targets 3.12.
    let files = edited(
        NODE_PY,
        "        except ModelOnexError:",
        "        except ModelOnexError, ValueError:",
    );
    let v = g9_syntax(&files, &no_yaml_problems);
    assert_eq!(v.status, GateStatus::Fail, "{v:?}");
}

#[test]
fn g9_fails_on_yaml_the_onex_loader_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let node = render(&default_prompt(NodeType::Effect));
    let dir = write_node(tmp.path(), &node);
    let files = edit(
        &node,
        "v1_0_0/contract.yaml",
        "node_type: EFFECT",
        "node_type: [EFFECT",
    );
    let v = g9_syntax(&files, &onex_validate(&dir));
    assert_eq!(v.status, GateStatus::Fail);
    assert!(
        v.message.starts_with("v1_0_0/contract.yaml:"),
        "{}",
        v.message
    );
    assert!(v.message.contains("ONEX002"), "{}", v.message);
    // A contract that parses but breaks a rule (top-level version → ONEX015 warning) fails too.
    let files = edit(
        &node,
        "v1_0_0/contract.yaml",
        "node_version:",
        "version: 1.0.0\nnode_version:",
    );
    let v = g9_syntax(&files, &onex_validate(&dir));
    assert_eq!(v.status, GateStatus::Fail);
    assert!(v.message.contains("ONEX015"), "{}", v.message);
    // A manifest without its hash.
    let files = edit(&node, "node.manifest.yaml", "hash:", "not_hash:");
    let v = g9_syntax(&files, &onex_validate(&dir));
    assert!(v.message.contains("ONEX090"), "{}", v.message);
}

// ------------------------------------------------------------------------------------ G10

#[test]
fn g10_fails_on_wrong_class_name_or_base() {
    let p = default_prompt(NodeType::Effect);
    let files = edited(
        NODE_PY,
        "class NodePostgresWriterEffect(",
        "class NodePostgreswriterEffect(",
    );
    let v = g10_naming(&files, &p);
    assert_eq!(v.status, GateStatus::Fail);
    assert_eq!(
        v.message,
        "v1_0_0/node.py: expected class NodePostgresWriterEffect(NodeEffect), found class NodePostgreswriterEffect(NodeEffect)"
    );
    assert!(v.details["line"].as_u64().unwrap() > 1);

    let files = edited(NODE_PY, "(NodeEffect):", "(NodeCompute):");
    let v = g10_naming(&files, &p);
    assert_eq!(
        v.message,
        "v1_0_0/node.py: expected class NodePostgresWriterEffect(NodeEffect), found class NodePostgresWriterEffect(NodeCompute)"
    );

    // With a helper class first, the message still names the node class that was meant.
    let files = edited(
        NODE_PY,
        "class NodePostgresWriterEffect(NodeEffect):",
        "class Helper:\n    pass\n\n\nclass NodePostgresWriterEfect(NodeEffect):",
    );
    assert_eq!(
        g10_naming(&files, &p).message,
        "v1_0_0/node.py: expected class NodePostgresWriterEffect(NodeEffect), found class NodePostgresWriterEfect(NodeEffect)"
    );

    let files = edited(
        OUTPUT_PY,
        "class ModelPostgresWriterOutput(",
        "class ModelPostgresWriterResult(",
    );
    let v = g10_naming(&files, &p);
    assert!(
        v.message
            .contains("expected class ModelPostgresWriterOutput"),
        "{}",
        v.message
    );
}

#[test]
fn g10_fails_on_missing_renamed_or_extra_files() {
    let p = default_prompt(NodeType::Effect);
    let node = render(&p);
    let files: Vec<_> = node
        .files
        .iter()
        .filter(|f| f.rel_path != OUTPUT_PY)
        .cloned()
        .collect();
    let v = g10_naming(&files, &p);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(v.message.starts_with(OUTPUT_PY), "{}", v.message);

    let mut files = node.files.clone();
    files[6].rel_path = "v1_0_0/models/model_postgreswriter_input.py".into();
    assert_eq!(g10_naming(&files, &p).status, GateStatus::Fail);

    let mut files = node.files.clone();
    files.push(RenderedFile::new("v1_0_0/extra.py", b"x = 1\n".to_vec()));
    let v = g10_naming(&files, &p);
    assert!(v.message.starts_with("v1_0_0/extra.py"), "{}", v.message);

    // A node generated for another type does not pass for this one.
    let compute = render(&default_prompt(NodeType::Compute));
    assert_eq!(g10_naming(&compute.files, &p).status, GateStatus::Fail);
}

// ------------------------------------------------------------------------------------ G11

#[test]
fn g11_fails_on_each_kind_of_bad_import() {
    let pack = TemplatePack::builtin();
    let cases = [
        (
            "import time\n",
            "import time\nimport os\n",
            "'os' is not allowed",
        ),
        (
            "import time\n",
            "import time\nimport requests\n",
            "'requests' is not allowed",
        ),
        (
            "from omnibase_core.nodes.node_effect import NodeEffect",
            "from omnibase_core.core.node_effect import NodeEffect",
            "is a pre-0.47 path",
        ),
        (
            "from omnibase_core.nodes.node_effect import NodeEffect",
            "from omnibase_core.nodes.node_effect import NodeEffect, NodeEffectX",
            "'omnibase_core.nodes.node_effect.NodeEffectX' is not in the omnibase-core 0.47.57 symbol table",
        ),
        (
            "from omnibase_core.errors.model_onex_error import ModelOnexError",
            "from omnibase_core.errors.error_codes import ModelOnexError",
            "is not in the omnibase-core",
        ),
        (
            "from typing import Any",
            "from typing import *",
            "import * is not allowed",
        ),
        (
            "from .models.model_postgres_writer_config import",
            "from .models.model_postgres_writer_settings import",
            "names no generated module (v1_0_0.models.model_postgres_writer_settings)",
        ),
        (
            "from .models.model_postgres_writer_config import ModelPostgresWriterConfig",
            "from .models.model_postgres_writer_config import ModelPostgresWriterSettings",
            "names nothing defined in generated module",
        ),
        (
            "import time\n",
            "import time\nfrom ...outside import x\n",
            "goes above",
        ),
    ];
    for (from, to, want) in cases {
        let files = edited(NODE_PY, from, to);
        let v = g11_imports(&files, pack);
        assert_eq!(v.status, GateStatus::Fail, "{to}");
        assert!(v.message.starts_with("v1_0_0/node.py:"), "{}", v.message);
        assert!(v.message.contains(want), "{to}: {}", v.message);
        assert!(v.details["line"].as_u64().is_some());
    }
}

// ------------------------------------------------------------------------------------ G12

#[test]
fn g12_fails_on_broken_models() {
    let cases = [
        (
            OUTPUT_PY,
            "    model_config = ConfigDict(extra=\"forbid\")\n",
            "",
            "has no model_config = ConfigDict(…)",
        ),
        (
            OUTPUT_PY,
            "(BaseModel):",
            "(object):",
            "does not derive from BaseModel",
        ),
        (
            OUTPUT_PY,
            "    success: bool",
            "    succeeded: bool",
            "lacks required field success",
        ),
        (
            INPUT_PY,
            "    operation_type: ",
            "    operation: ",
            "lacks required field operation_type",
        ),
        (
            "v1_0_0/models/model_postgres_writer_config.py",
            "    debug_mode: bool",
            "    debug: bool",
            "lacks required field debug_mode",
        ),
        (
            "v1_0_0/models/model_postgres_writer_effect_contract.py",
            "    input_model: str",
            "    input_class: str",
            "lacks required field input_model",
        ),
        (
            OUTPUT_PY,
            "class ModelPostgresWriterOutput(",
            "class PostgresWriterResult(",
            "model class Model…Output missing",
        ),
    ];
    for (rel, from, to, want) in cases {
        let v = g12_models(&edited(rel, from, to));
        assert_eq!(v.status, GateStatus::Fail, "{want}");
        assert!(v.message.starts_with(rel), "{}", v.message);
        assert!(v.message.ends_with(want), "{}", v.message);
    }
    let node = render(&default_prompt(NodeType::Effect));
    let files: Vec<_> = node
        .files
        .iter()
        .filter(|f| f.rel_path != INPUT_PY)
        .cloned()
        .collect();
    let v = g12_models(&files);
    assert_eq!(
        v.message,
        "v1_0_0/models: model file model_*_input.py missing"
    );
}

#[test]
fn g12_warns_on_pydantic_v1_idioms() {
    let v = g12_models(&edited(
        NODE_PY,
        "            return ModelPostgresWriterOutput(success=True, result_data=result_data)",
        "            return ModelPostgresWriterOutput.parse_obj({\"success\": True, \"result_data\": result_data.dict()})",
    ));
    assert_eq!(v.status, GateStatus::Warning, "{v:?}");
    assert!(
        v.message.starts_with("v1_0_0/node.py: Pydantic v1 idiom"),
        "{}",
        v.message
    );
    assert_eq!(v.details["problems"].as_array().unwrap().len(), 2);
    let v = g12_models(&edited(
        OUTPUT_PY,
        "    model_config = ConfigDict(extra=\"forbid\")\n",
        "    model_config = ConfigDict(extra=\"forbid\")\n\n    class Config:\n        extra = \"forbid\"\n",
    ));
    assert_eq!(v.status, GateStatus::Warning);
    assert!(
        v.message
            .contains("class Config in ModelPostgresWriterOutput"),
        "{}",
        v.message
    );
}

// ------------------------------------------------------------------------------- G4, G5

/// A copy of the built-in pack in a temp dir, with `edit` applied to template `name`.
fn pack_with(
    name: &str,
    edit: impl Fn(String) -> Option<String>,
) -> (tempfile::TempDir, TemplatePack) {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/pack");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let file_name = entry.file_name().into_string().unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = if file_name == name {
            edit(text)
        } else {
            Some(text)
        };
        if let Some(text) = text {
            std::fs::write(tmp.path().join(&file_name), text).unwrap();
        }
    }
    let pack = TemplatePack::from_dir(tmp.path()).unwrap();
    (tmp, pack)
}

#[test]
fn a_copy_of_the_builtin_pack_passes_g4_g5_and_renders_the_same() {
    let (_tmp, pack) = pack_with("none", Some);
    assert_eq!(pack.name(), "onex-builtin");
    for t in NodeType::ALL {
        assert!(g4_imports_known(&pack, t).is_pass());
        assert!(g5_templates(&pack, t).is_pass());
    }
    let p = default_prompt(NodeType::Orchestrator);
    let input = RenderInput {
        parsed: &p,
        correlation_id: CORRELATION.parse().unwrap(),
        run_started_at: started_at(),
        engine_version: "0.1.0",
    };
    let a = render_node(&input, &pack, &mut |_| {}).unwrap();
    let b = render_node(&input, TemplatePack::builtin(), &mut |_| {}).unwrap();
    assert_eq!(a, b);
}

#[test]
fn g5_fails_on_missing_template_for_the_type_only() {
    let (_tmp, pack) = pack_with("node_reducer.py.j2", |_| None);
    let v = g5_templates(&pack, NodeType::Reducer);
    assert_eq!(v.status, GateStatus::Fail);
    assert_eq!(
        v.message,
        "Pack lacks or cannot compile: node_reducer.py.j2"
    );
    assert!(g5_templates(&pack, NodeType::Effect).is_pass());
    assert!(!pack.has_template("node_reducer.py.j2"));
}

#[test]
fn g5_fails_on_template_syntax_error_unknown_variable_and_raw_user_text() {
    let (_tmp, pack) = pack_with("model_output.py.j2", |s| {
        Some(s.replace(
            "{{ output_model }}(BaseModel)",
            "{{ output_model (BaseModel)",
        ))
    });
    let v = g5_templates(&pack, NodeType::Effect);
    assert_eq!(
        v.message,
        "Pack lacks or cannot compile: model_output.py.j2"
    );
    assert!(!pack.has_template("model_output.py.j2"));

    // A broken node template of another type does not fail this type.
    let (_tmp, pack) = pack_with("node_reducer.py.j2", |s| Some(s + "{% if %}"));
    assert_eq!(
        g5_templates(&pack, NodeType::Reducer).message,
        "Pack lacks or cannot compile: node_reducer.py.j2"
    );
    assert!(g5_templates(&pack, NodeType::Effect).is_pass());

    // A render failure is reported under the template's name.
    let (_tmp, pack) = pack_with("_node_base.py.j2", |s| Some(s + "{{ actions[5].name }}\n"));
    assert_eq!(
        g5_templates(&pack, NodeType::Compute).message,
        "Pack lacks or cannot compile: node_compute.py.j2"
    );

    let (_tmp, pack) = pack_with("model_output.py.j2", |s| Some(s + "# {{ outptu_model }}\n"));
    let v = g5_templates(&pack, NodeType::Compute);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(
        v.details["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variables outptu_model"),
        "{v:?}"
    );

    let (_tmp, pack) = pack_with("model_output.py.j2", |s| Some(s + "# {{ description }}\n"));
    let v = g5_templates(&pack, NodeType::Compute);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(
        v.details["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("user text printed without"),
        "{v:?}"
    );
}

#[test]
fn raw_user_text_is_a_render_error_even_past_the_lint() {
    // `~` concatenation and `|string` smuggle user text past a naive lint; the runtime guard
    // (UserText refuses to print) still stops it.
    for bad in [
        "# {{ node_class ~ description }}\n",
        "# {{ (description|string)|lower }}\n",
        "{% for r in requirements %}# {{ r ~ '' }}\n{% endfor %}",
    ] {
        let (_tmp, pack) = pack_with("model_output.py.j2", |s| Some(s + bad));
        let p = default_prompt(NodeType::Effect);
        let input = RenderInput {
            parsed: &p,
            correlation_id: CORRELATION.parse().unwrap(),
            run_started_at: started_at(),
            engine_version: "0.1.0",
        };
        let err = render_node(&input, &pack, &mut |_| {}).unwrap_err();
        assert_eq!(err.code, RenderErrorCode::TemplateRenderError, "{bad}");
        assert_eq!(err.failed_file.as_deref(), Some(OUTPUT_PY));
    }
}

#[test]
fn printing_a_list_or_none_is_a_render_error() {
    for bad in [
        "# {{ actions }}\n",
        "# {{ none }}\n",
        "# {{ actions[0] }}\n",
    ] {
        let (_tmp, pack) = pack_with("enums_init.py.j2", |s| Some(s + bad));
        let p = default_prompt(NodeType::Effect);
        let input = RenderInput {
            parsed: &p,
            correlation_id: CORRELATION.parse().unwrap(),
            run_started_at: started_at(),
            engine_version: "0.1.0",
        };
        let err = render_node(&input, &pack, &mut |_| {}).unwrap_err();
        assert_eq!(err.code, RenderErrorCode::TemplateRenderError, "{bad}");
        assert!(
            err.message.contains("printed directly"),
            "{bad}: {}",
            err.message
        );
        assert_eq!(
            g5_templates(&pack, NodeType::Effect).status,
            GateStatus::Fail
        );
    }
}

#[test]
fn undefined_variable_is_a_render_error_not_left_in_output() {
    let (_tmp, pack) = pack_with("enums_init.py.j2", |s| Some(s + "{{ actions[0].nope }}\n"));
    let p = default_prompt(NodeType::Effect);
    let input = RenderInput {
        parsed: &p,
        correlation_id: CORRELATION.parse().unwrap(),
        run_started_at: started_at(),
        engine_version: "0.1.0",
    };
    let mut seen = 0;
    let err = render_node(&input, &pack, &mut |_| seen += 1).unwrap_err();
    assert_eq!(err.code.as_str(), "TEMPLATE_RENDER_ERROR");
    assert_eq!(err.failed_file.as_deref(), Some("v1_0_0/enums/__init__.py"));
    assert!(seen < 12);
    assert_eq!(
        g5_templates(&pack, NodeType::Effect).status,
        GateStatus::Fail
    );
}

#[test]
fn g4_fails_on_import_missing_from_the_symbol_table() {
    let (_tmp, pack) = pack_with("_node_base.py.j2", |s| {
        Some(s.replace(
            "from omnibase_core.errors.model_onex_error import ModelOnexError",
            "from omnibase_core.errors.error_codes import ModelOnexError\nfrom omnibase_core.core.node_base import NodeBase",
        ))
    });
    let v = g4_imports_known(&pack, NodeType::Effect);
    assert_eq!(v.status, GateStatus::Fail);
    assert_eq!(
        v.message,
        "Pack imports unknown symbols: omnibase_core.errors.error_codes.ModelOnexError, omnibase_core.core.node_base.NodeBase"
    );
    assert_eq!(v.details["file"], "v1_0_0/node.py");

    // A pack with its own (older) table that lacks a symbol the templates import.
    let (tmp, _) = pack_with("none", Some);
    std::fs::write(
        tmp.path().join("omnibase_core_symbols.json"),
        r#"{"package": "omnibase-core", "version": "0.46.0", "symbols": ["omnibase_core.nodes.node_effect.NodeEffect"]}"#,
    )
    .unwrap();
    let pack = TemplatePack::from_dir(tmp.path()).unwrap();
    let v = g4_imports_known(&pack, NodeType::Effect);
    assert_eq!(v.status, GateStatus::Fail);
    assert!(v.message.starts_with("Pack imports unknown symbols: omnibase_core.enums.enum_core_error_code.EnumCoreErrorCode"), "{}", v.message);
    let v = g4_imports_known(&pack, NodeType::Compute);
    let problems = v.details["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4);
    assert!(
        problems[3]["message"]
            .as_str()
            .unwrap()
            .contains("node_compute.NodeCompute"),
        "{v:?}"
    );
}

#[test]
fn from_dir_reports_unusable_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let e = TemplatePack::from_dir(&tmp.path().join("absent")).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    let e = TemplatePack::from_dir(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("pack.toml"), "{e}");
    std::fs::write(tmp.path().join("pack.toml"), "name = 3\n").unwrap();
    assert!(TemplatePack::from_dir(tmp.path()).is_err());
    std::fs::write(
        tmp.path().join("pack.toml"),
        "name = \"x\"\nstdlib_allow = []\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("omnibase_core_symbols.json"), "[").unwrap();
    let e = TemplatePack::from_dir(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("symbol table"), "{e}");
    std::fs::remove_file(tmp.path().join("omnibase_core_symbols.json")).unwrap();
    // Loads, but has no template: G5 names every missing one.
    let pack = TemplatePack::from_dir(tmp.path()).unwrap();
    let v = g5_templates(&pack, NodeType::Effect);
    assert!(
        v.message.contains("node_effect.py.j2") && v.message.contains("init.py.j2"),
        "{}",
        v.message
    );
    assert_eq!(
        g4_imports_known(&pack, NodeType::Effect).status,
        GateStatus::Fail
    );
}
