//! The 140 acceptance prompts (`tests/fixtures/acceptance/prompts.tsv`) end to end through the codegen
//! half of the pipeline: parse → render → G9–G12 on the written files, and `py_compile` of every
//! generated Python file. A prompt whose identifiers fail G3 must be refused with
//! CONTEXT_INVALID, never rendered or panicked on.

#[path = "../../../tests/support/acceptance.rs"]
mod acceptance;
mod codegen_common;

use std::process::Command;

use codegen_common::*;
use onex_generation::codegen::compile::GateStatus;
use onex_generation::codegen::escape::{is_pascal_identifier, is_snake_identifier};
use onex_generation::codegen::{
    RenderErrorCode, RenderInput, TemplatePack, g9_syntax, g10_naming, g11_imports, g12_models,
    render_node,
};
use onex_generation::prompt::parse::parse;

#[test]
fn every_acceptance_prompt_renders_a_node_that_passes_post_validation() {
    let pack = TemplatePack::builtin();
    let tmp = tempfile::tempdir().unwrap();
    let mut rendered = 0;
    let mut refused = 0;
    let mut py_files = Vec::new();
    for (i, case) in acceptance::cases().iter().enumerate() {
        let (id, prompt) = (case.id.as_str(), &case.prompt);
        let Ok(parsed) = parse(prompt, None) else {
            continue; // INVALID_PROMPT: parsing fails, nothing to render
        };
        let input = RenderInput {
            parsed: &parsed,
            correlation_id: uuid::Uuid::from_u128(i as u128 + 1),
            run_started_at: started_at(),
            engine_version: onex_engine::ENGINE_VERSION,
        };
        let g3_ok = is_snake_identifier(&parsed.service_name)
            && parsed.service_name.len() <= 64
            && is_snake_identifier(&parsed.domain)
            && parsed.domain.len() <= 64
            && is_pascal_identifier(&parsed.node_name);
        let node = match render_node(&input, pack, &mut |_| {}) {
            Ok(node) => node,
            Err(e) => {
                assert!(!g3_ok, "{id}: render failed for valid identifiers: {e}");
                assert_eq!(e.code, RenderErrorCode::ContextInvalid, "{id}: {e}");
                refused += 1;
                continue;
            }
        };
        rendered += 1;
        let root = tmp.path().join(id);
        let dir = write_node(&root, &node);
        let g9 = g9_syntax(&node.files, &onex_validate(&dir));
        assert_eq!(g9.status, GateStatus::Pass, "{id} {prompt:?}: {g9:?}");
        for v in [
            g10_naming(&node.files, &parsed),
            g11_imports(&node.files, pack),
            g12_models(&node.files),
        ] {
            assert_eq!(v.status, GateStatus::Pass, "{id} {prompt:?}: {v:?}");
        }
        py_files.extend(
            node.files
                .iter()
                .filter(|f| f.rel_path.ends_with(".py"))
                .map(|f| dir.join(&f.rel_path)),
        );
    }
    assert!(
        rendered >= 120,
        "only {rendered} prompts rendered ({refused} refused)"
    );
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(python3())
        .args(["-m", "py_compile"])
        .args(&py_files)
        .env("PYTHONPYCACHEPREFIX", cache.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
