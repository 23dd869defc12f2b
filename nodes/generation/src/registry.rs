//! The one place node generation's handlers are registered by name. Contracts refer to these
//! names (`handler: parse_prompt`); `onex validate` rejects a name no linked package registers
//! (ONEX100). A binary joins this table with the engine's built-ins
//! (`Handlers::builtin().with(onex_generation::HANDLERS)`).
//!
//! | name | kind | node | outputs |
//! |---|---|---|---|
//! | parse_prompt | stage | node_prompt_parser_compute | parsed |
//! | plan_output | stage | node_validator_compute | plan |
//! | imports_known, templates_available, output_writable | gate (G4–G6) | node_validator_compute | |
//! | render_node | stage | node_code_generator_effect | generated |
//! | syntax_valid, naming_convention, imports_resolve, model_structure | gate (G9–G12) | node_validator_compute | |
//! | write_node | stage | node_node_writer_effect | written |
//! | probe_python | stage (prepare) | node_compile_checker_effect | python |
//! | mypy_check, import_test | gate (G13, G14) | node_compile_checker_effect | |

use crate::handlers::{compile, generate, parse, validate, write};
use onex_engine::contract::executable::{HandlerInfo, Outputs, ParamDoc, ParamProblem};
use onex_engine::pipeline::{GateFn, HandlerEntry, StageFn};
use serde_json::Value;

/// Codes of the output placement (staging, writing, the output plan).
const OUTPUT_CODES: &[&str] = &[
    "PERMISSION_DENIED",
    "DISK_FULL",
    "DIRECTORY_NOT_FOUND",
    "FILE_WRITE_ERROR",
    "OUTPUT_EXISTS",
    "OUTPUT_NOT_WRITABLE",
    "OUTPUT_OUTSIDE_ROOT",
];

const fn info(
    stage: bool,
    outputs: &'static [&'static str],
    doc: &'static str,
    failure_codes: &'static [&'static str],
) -> HandlerInfo {
    HandlerInfo {
        stage,
        gate: !stage,
        outputs: Outputs::Fixed(outputs),
        doc,
        params: &[],
        check_params: None,
        param_expressions: None,
        param_event: None,
        failure_codes,
    }
}

const fn stage(
    name: &'static str,
    outputs: &'static [&'static str],
    doc: &'static str,
    failure_codes: &'static [&'static str],
    f: StageFn,
) -> HandlerEntry {
    HandlerEntry {
        name,
        info: info(true, outputs, doc, failure_codes),
        stage: Some(f),
        gate: None,
    }
}

const fn gate(
    name: &'static str,
    doc: &'static str,
    failure_codes: &'static [&'static str],
    f: GateFn,
) -> HandlerEntry {
    HandlerEntry {
        name,
        info: info(false, &[], doc, failure_codes),
        stage: None,
        gate: Some(f),
    }
}

/// The parameter of the gates that run the configured Python (G13, G14).
static TIMEOUT_PARAM: &[ParamDoc] = &[ParamDoc {
    name: "timeout_ms",
    required: false,
    doc: "integer > 0: the check is killed after this (default G13 60000, G14 30000)",
}];

fn check_timeout(params: &Value) -> Vec<ParamProblem> {
    match params.get("timeout_ms") {
        Some(v) if v.as_u64().is_none_or(|n| n == 0) => vec![ParamProblem {
            code: "ONEX103",
            pointer: "/timeout_ms".into(),
            message: format!("`timeout_ms` must be an integer > 0, not {v}"),
        }],
        _ => Vec::new(),
    }
}

/// A gate running a Python check, with a `timeout_ms` parameter.
const fn timed_gate(name: &'static str, doc: &'static str, f: GateFn) -> HandlerEntry {
    let mut info = info(false, &[], doc, &[]);
    info.params = TIMEOUT_PARAM;
    info.check_params = Some(check_timeout);
    HandlerEntry {
        name,
        info,
        stage: None,
        gate: Some(f),
    }
}

/// Node generation's handlers.
pub static HANDLERS: &[HandlerEntry] = &[
    stage(
        "parse_prompt",
        &["parsed"],
        "Parses the trigger's prompt_text into a ParsedPrompt (node type, names, domain, requirements)",
        &["INVALID_PROMPT"],
        |c| Box::pin(parse::parse_prompt(c)),
    ),
    stage(
        "plan_output",
        &["plan"],
        "Plans where the node goes: output and node directory, staging directory, files, template pack",
        &[
            "OUTPUT_NOT_WRITABLE",
            "OUTPUT_OUTSIDE_ROOT",
            "OUTPUT_EXISTS",
            "TEMPLATE_NOT_FOUND",
        ],
        |c| Box::pin(validate::plan_output(c)),
    ),
    gate(
        "imports_known",
        "G4: the template pack imports only symbols of the pinned omnibase-core (live probe when a Python is configured)",
        &[],
        |c| Box::pin(validate::imports_known(c)),
    ),
    gate(
        "templates_available",
        "G5: every template the node needs is in the pack",
        &["TEMPLATE_NOT_FOUND"],
        |c| Box::pin(validate::templates_available(c)),
    ),
    gate(
        "output_writable",
        "G6: the output directory is inside the allowed roots, writable, and the node directory free",
        &[
            "OUTPUT_NOT_WRITABLE",
            "OUTPUT_OUTSIDE_ROOT",
            "OUTPUT_EXISTS",
        ],
        |c| Box::pin(validate::output_writable(c)),
    ),
    stage(
        "render_node",
        &["generated"],
        "Renders the node's 12 files into the run's staging directory (one progress step each)",
        &[
            "TEMPLATE_RENDER_ERROR",
            "CONTEXT_INVALID",
            "TEMPLATE_NOT_FOUND",
            "PERMISSION_DENIED",
            "DISK_FULL",
            "DIRECTORY_NOT_FOUND",
            "FILE_WRITE_ERROR",
            "OUTPUT_EXISTS",
            "OUTPUT_NOT_WRITABLE",
            "OUTPUT_OUTSIDE_ROOT",
        ],
        |c| Box::pin(generate::render_node(c)),
    ),
    gate(
        "syntax_valid",
        "G9: every staged Python file parses (Python 3.12 grammar)",
        &[],
        |c| Box::pin(validate::syntax_valid(c)),
    ),
    gate(
        "naming_convention",
        "G10: ONEX naming of classes, files and the node directory",
        &[],
        |c| Box::pin(validate::naming_convention(c)),
    ),
    gate(
        "imports_resolve",
        "G11: every import resolves to the node's own modules or the pinned omnibase-core",
        &[],
        |c| Box::pin(validate::imports_resolve(c)),
    ),
    gate(
        "model_structure",
        "G12: the Pydantic models follow Pydantic 2 (ConfigDict, no class Config)",
        &[],
        |c| Box::pin(validate::model_structure(c)),
    ),
    stage(
        "write_node",
        &["written"],
        "fsyncs the staged files and moves the node directory into place atomically",
        OUTPUT_CODES,
        |c| Box::pin(write::write_node(c)),
    ),
    stage(
        "probe_python",
        &["python"],
        "Finds the interpreter, its mypy and omnibase-core (before CompilationStarted)",
        &[],
        |c| Box::pin(compile::probe_python(c)),
    ),
    timed_gate(
        "mypy_check",
        "G13: mypy over the placed node (warning only)",
        |c| Box::pin(compile::mypy_check(c)),
    ),
    timed_gate(
        "import_test",
        "G14: the node imports against omnibase-core in the configured Python (warning only)",
        |c| Box::pin(compile::import_test(c)),
    ),
];
