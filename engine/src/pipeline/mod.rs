//! The executor: builds the stage-and-gate DAG of an executable contract and runs it.

pub mod expr;
