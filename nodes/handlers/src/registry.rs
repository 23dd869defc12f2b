//! The one place handlers are registered by name. Contracts refer to these names
//! (`handler: parse_prompt`); `onex validate` rejects a name that is not here (ONEX100).
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

use crate::{compile, generate, parse, validate, write};
use onex_engine::codegen::TemplatePack;
use onex_engine::contract::executable::{EngineKnowledge, HandlerInfo, HandlerKind};
use onex_engine::events::EventCatalog;
use onex_engine::pipeline::{GateFn, HandlerRegistry, StageFn};

enum Func {
    Stage(StageFn),
    Gate(GateFn),
}

struct Entry {
    name: &'static str,
    outputs: &'static [&'static str],
    func: Func,
}

const fn stage(name: &'static str, outputs: &'static [&'static str], f: StageFn) -> Entry {
    Entry {
        name,
        outputs,
        func: Func::Stage(f),
    }
}

const fn gate(name: &'static str, f: GateFn) -> Entry {
    Entry {
        name,
        outputs: &[],
        func: Func::Gate(f),
    }
}

static HANDLERS: &[Entry] = &[
    stage("parse_prompt", &["parsed"], |c| {
        Box::pin(parse::parse_prompt(c))
    }),
    stage("plan_output", &["plan"], |c| {
        Box::pin(validate::plan_output(c))
    }),
    gate("imports_known", |c| Box::pin(validate::imports_known(c))),
    gate("templates_available", |c| {
        Box::pin(validate::templates_available(c))
    }),
    gate("output_writable", |c| {
        Box::pin(validate::output_writable(c))
    }),
    stage("render_node", &["generated"], |c| {
        Box::pin(generate::render_node(c))
    }),
    gate("syntax_valid", |c| Box::pin(validate::syntax_valid(c))),
    gate("naming_convention", |c| {
        Box::pin(validate::naming_convention(c))
    }),
    gate("imports_resolve", |c| {
        Box::pin(validate::imports_resolve(c))
    }),
    gate("model_structure", |c| {
        Box::pin(validate::model_structure(c))
    }),
    stage("write_node", &["written"], |c| {
        Box::pin(write::write_node(c))
    }),
    stage("probe_python", &["python"], |c| {
        Box::pin(compile::probe_python(c))
    }),
    gate("mypy_check", |c| Box::pin(compile::mypy_check(c))),
    gate("import_test", |c| Box::pin(compile::import_test(c))),
];

/// The registry of the shipped handlers; also what `onex validate` knows of the engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Registry;

impl Registry {
    /// Names of every registered handler, in registration order.
    pub fn names() -> impl Iterator<Item = (&'static str, HandlerKind)> {
        HANDLERS.iter().map(|e| {
            (
                e.name,
                match e.func {
                    Func::Stage(_) => HandlerKind::Stage,
                    Func::Gate(_) => HandlerKind::Gate,
                },
            )
        })
    }

    fn entry(name: &str) -> Option<&'static Entry> {
        HANDLERS.iter().find(|e| e.name == name)
    }
}

impl HandlerRegistry for Registry {
    fn stage(&self, name: &str) -> Option<StageFn> {
        match Self::entry(name)?.func {
            Func::Stage(f) => Some(f),
            Func::Gate(_) => None,
        }
    }

    fn gate(&self, name: &str) -> Option<GateFn> {
        match Self::entry(name)?.func {
            Func::Gate(f) => Some(f),
            Func::Stage(_) => None,
        }
    }

    fn info(&self, name: &str) -> Option<HandlerInfo> {
        let e = Self::entry(name)?;
        Some(HandlerInfo {
            kind: match e.func {
                Func::Stage(_) => HandlerKind::Stage,
                Func::Gate(_) => HandlerKind::Gate,
            },
            outputs: e.outputs,
        })
    }
}

impl EngineKnowledge for Registry {
    fn handler(&self, name: &str) -> Option<HandlerInfo> {
        self.info(name)
    }

    fn has_template(&self, name: &str) -> bool {
        TemplatePack::builtin().has_template(name)
    }

    fn catalog(&self) -> &EventCatalog {
        EventCatalog::shipped()
    }
}
