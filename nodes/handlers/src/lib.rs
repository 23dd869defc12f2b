//! The handlers of the shipped ONEX nodes, and the shipped pipeline contract.
//!
//! Each handler is a small async function over the engine's library code (prompt parsing,
//! rendering, checks, placement, compilation); [`registry`] registers them by name. Contracts
//! decide which handler runs where, with which gates, in which order.

pub mod cli_adapter;
mod compile;
mod generate;
mod parse;
pub mod registry;
mod resources;
mod validate;
mod write;

pub use registry::Registry;

use onex_engine::contract::executable::{self, ExecutableContract};
use onex_engine::contract::validate::{ValidateOptions, validate_file, validate_str};
use onex_engine::diag::Diagnostic;
use std::path::Path;

/// Where the shipped pipeline contract lives in the repository (and how diagnostics name it).
pub const SHIPPED_CONTRACT_PATH: &str =
    "nodes/node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml";

/// The shipped pipeline contract, embedded so `onex` works from any directory.
pub const SHIPPED_CONTRACT: &str =
    include_str!("../../node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml");

/// Loads and validates the shipped contract through the same path as `onex validate`.
pub fn shipped_contract() -> Result<ExecutableContract, Vec<Diagnostic>> {
    let report = validate_str(
        Path::new(SHIPPED_CONTRACT_PATH),
        SHIPPED_CONTRACT,
        &ValidateOptions::default(),
        Some(&Registry),
    );
    executable::from_report(report)
}

/// Loads and validates a pipeline contract file (`--contract FILE`, reload).
pub fn load_contract(path: &Path) -> Result<ExecutableContract, Vec<Diagnostic>> {
    let report = validate_file(path, &ValidateOptions::default(), Some(&Registry));
    executable::from_report(report)
}
