//! ONEX contracts: loading (YAML with spans, `!include`), dialect detection, normalisation,
//! JSON-Schema and semantic rules, and the validated IR.
//!
//! Layers, one type each: [`yaml`] (text → marked YAML tree) → [`source::SourceDoc`] (JSON value
//! after include resolution + span map) → [`validate`] (all rules; the one path shared by
//! start-up, reload and `onex validate`) → [`ir`] (normalised view) and [`graph`] (petgraph DAG,
//! waves).

pub mod codes;
pub mod diff;
pub mod executable;
pub mod graph;
pub mod ir;
pub mod lax;
pub mod report;
pub mod rules;
pub mod schema;
pub mod source;
pub mod validate;
pub mod yaml;

pub use graph::{ExecutionMode, WorkflowGraph};
pub use ir::{Kind, NormalizedNodeType};
pub use source::{LoadOptions, Loaded, Location, SourceDoc, load_file, load_str};
pub use validate::{
    Dialect, FileReport, Report, Status, UsageError, ValidateOptions, validate_file,
    validate_paths, validate_str,
};
