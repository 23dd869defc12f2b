//! onex engine: a declarative workflow engine driven by ONEX YAML contracts, as a library.
//!
//! The data flows through separate types, one per step (see docs/ARCHITECTURE.md):
//! raw contract (YAML with spans, [`contract`]) → validated IR ([`contract::executable`],
//! [`workflow::Workflow`]) → graph (the executor's petgraph schedule) → running workflow
//! ([`pipeline::executor`]). Start-up, reload and `onex validate` share one validation path:
//! [`contract::validate`].
//!
//! The engine knows no workflow built on it: a workflow package (node generation lives in
//! `nodes/generation`) brings contracts, a catalogue and a table of handlers; the engine brings
//! the built-in steps ([`builtin`]), the bus ([`bus`]) and the service ([`service`]).

pub mod builtin;
pub mod bus;
pub mod config;
pub mod contract;
pub mod diag;
pub mod events;
pub mod pipeline;
pub mod process;
pub mod service;
pub mod telemetry;
pub mod testing;
pub mod workflow;

/// Version of the engine, written into event envelopes.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
