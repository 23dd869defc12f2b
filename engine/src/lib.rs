//! onex engine: everything the `onex` binary does, as a library.
//!
//! The data flows through separate types, one per step (see docs/ARCHITECTURE.md):
//! raw contract (YAML with spans, [`contract`]) → validated IR ([`contract::ir`]) →
//! graph ([`pipeline::graph`]) → running workflow ([`pipeline::executor`]).
//! Start-up, reload and `onex validate` share one validation path: [`contract::validate`].

pub mod bus;
pub mod codegen;
pub mod config;
pub mod contract;
pub mod diag;
pub mod events;
pub mod pipeline;
pub mod prompt;
pub mod service;
pub mod telemetry;

/// Version of the engine, written into generated files and event envelopes.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
