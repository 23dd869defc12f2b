//! One module per `onex` subcommand: argument structs (clap) and a `run` returning the exit code.

pub mod busctl;
pub mod cancel;
pub mod completions;
pub mod config;
pub mod diff;
pub mod events;
pub mod generate;
pub mod graph;
pub mod handlers;
pub mod orchestrator;
pub mod reload;
pub mod run;
pub mod runs;
pub mod schema;
pub mod submit;
pub mod test;
pub mod validate;
