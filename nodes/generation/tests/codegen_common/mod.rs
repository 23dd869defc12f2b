//! Helpers shared by the codegen integration tests: parsed prompts built directly (the parser is
//! tested on its own), a fixed render input, writing a node to disk and the YAML check the lead's
//! executor passes to G9 (the `onex validate` loader and rules).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use onex_engine::contract::validate::{ValidateOptions, validate_str};
use onex_engine::diag::Severity;
use onex_generation::codegen::{
    RenderInput, RenderedFile, RenderedNode, TemplatePack, render_node,
};
use onex_generation::prompt::{DomainSource, NameSource, NodeType, ParsedPrompt};

pub const CORRELATION: &str = "0192f0c4-7a1b-7c3d-8e4f-0123456789ab";

pub fn prompt(t: NodeType, reqs: &[&str], systems: &[&str]) -> ParsedPrompt {
    ParsedPrompt {
        prompt: "Create an EFFECT node called PostgresWriter that writes orders".to_string(),
        node_type: t,
        type_confidence: 1.0,
        node_name: "PostgresWriter".to_string(),
        service_name: "postgres_writer".to_string(),
        name_confidence: 1.0,
        name_source: NameSource::Explicit,
        domain: "infrastructure".to_string(),
        domain_confidence: 0.7,
        domain_source: DomainSource::Keyword,
        description: "Create an EFFECT node called PostgresWriter that writes orders".to_string(),
        functional_requirements: reqs.iter().map(|s| s.to_string()).collect(),
        external_systems: systems.iter().map(|s| s.to_string()).collect(),
        confidence_score: 0.9,
    }
}

pub fn default_prompt(t: NodeType) -> ParsedPrompt {
    prompt(
        t,
        &["Insert order rows", "Update order status"],
        &["PostgreSQL", "Kafka"],
    )
}

pub fn started_at() -> jiff::Timestamp {
    "2026-11-28T02:39:48.123456Z".parse().unwrap()
}

pub fn render_with(p: &ParsedPrompt, correlation: uuid::Uuid, at: jiff::Timestamp) -> RenderedNode {
    let input = RenderInput {
        parsed: p,
        correlation_id: correlation,
        run_started_at: at,
        engine_version: "0.1.0",
    };
    render_node(&input, TemplatePack::builtin(), &mut |_| {})
        .unwrap_or_else(|e| panic!("render failed: {e}"))
}

pub fn render(p: &ParsedPrompt) -> RenderedNode {
    render_with(p, CORRELATION.parse().unwrap(), started_at())
}

pub fn file<'a>(node: &'a RenderedNode, rel: &str) -> &'a RenderedFile {
    node.files
        .iter()
        .find(|f| f.rel_path == rel)
        .unwrap_or_else(|| panic!("no {rel} in {:?}", paths(node)))
}

pub fn text(node: &RenderedNode, rel: &str) -> String {
    String::from_utf8(file(node, rel).bytes.clone()).unwrap()
}

pub fn paths(node: &RenderedNode) -> Vec<String> {
    node.files.iter().map(|f| f.rel_path.clone()).collect()
}

/// Writes the node under `root/<dir_name>/` and returns that directory.
pub fn write_node(root: &Path, node: &RenderedNode) -> PathBuf {
    let dir = root.join(&node.dir_name);
    for f in &node.files {
        let p = dir.join(&f.rel_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.bytes).unwrap();
    }
    dir
}

/// G9's YAML callback as the executor wires it: the `onex validate` loader and rules on the file
/// as staged under `node_dir` (ONEX095 looks for the files a manifest names next to it); any
/// error or warning is a problem (`line:col: CODE message`). Info findings are allowed.
pub fn onex_validate(node_dir: &Path) -> impl Fn(&str, &[u8]) -> Vec<String> + '_ {
    move |rel, bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return vec!["1:1: not UTF-8".to_string()];
        };
        let report = validate_str(&node_dir.join(rel), text, &ValidateOptions::default(), None);
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity != Severity::Info)
            .map(|d| format!("{}:{}: {} {}", d.pos.line, d.pos.column, d.code, d.message))
            .collect()
    }
}

/// The system python3 (3.11 is enough for syntax), or a loud failure.
pub fn python3() -> PathBuf {
    let out = std::process::Command::new("python3")
        .arg("--version")
        .output();
    match out {
        Ok(o) if o.status.success() => PathBuf::from("python3"),
        _ => panic!(
            "python3 is required by this test (py_compile / literal checks) and was not found"
        ),
    }
}
