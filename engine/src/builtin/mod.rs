//! The engine's built-in handlers, usable by any contract without Rust (docs/contracts.md
//! "Built-in steps"). This table is the one place they are registered.
//!
//! | name | use | what |
//! |---|---|---|
//! | `command` | stage, gate | runs a program (argv from the contract, never a shell) |
//! | `emit` | stage | publishes an event the catalogue declares |
//!
//! A third built-in step needs no handler: a stage with `outputs:` computes context entries from
//! expressions (the executor evaluates them).

pub mod command;
pub mod emit;

use crate::contract::executable::{HandlerInfo, Outputs};
use crate::pipeline::HandlerEntry;

/// The built-in handlers.
pub static HANDLERS: &[HandlerEntry] = &[
    HandlerEntry {
        name: "command",
        info: HandlerInfo {
            stage: true,
            gate: true,
            outputs: Outputs::StageId,
            doc: "Runs a program: argv from the contract (templates, one item each), exit code decides; as a stage its result is stored under the stage id",
            params: command::PARAMS,
            check_params: Some(command::check_params),
            param_expressions: Some(command::expressions),
            param_event: None,
            failure_codes: command::FAILURE_CODES,
        },
        stage: Some(|c| Box::pin(command::stage(c))),
        gate: Some(|c| Box::pin(command::gate(c))),
    },
    HandlerEntry {
        name: "emit",
        info: HandlerInfo {
            stage: true,
            gate: false,
            outputs: Outputs::StageId,
            doc: "Publishes an event of the catalogue from this stage (chains and fans out workflows); stores {event_type} under the stage id",
            params: emit::PARAMS,
            check_params: Some(emit::check_params),
            param_expressions: Some(emit::expressions),
            param_event: Some(emit::event),
            failure_codes: &["EMIT_FAILED"],
        },
        stage: Some(|c| Box::pin(emit::stage(c))),
        gate: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_unique_and_documented() {
        let mut h = crate::pipeline::Handlers::default();
        h.add(HANDLERS).expect("unique names");
        for e in HANDLERS {
            assert!(!e.info.doc.is_empty(), "{}", e.name);
            assert_eq!(e.info.stage, e.stage.is_some(), "{}", e.name);
            assert_eq!(e.info.gate, e.gate.is_some(), "{}", e.name);
        }
    }
}
