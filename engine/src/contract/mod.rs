//! ONEX contracts: loading (YAML with spans, `!include`), dialect detection, normalisation,
//! JSON-Schema and semantic rules, and the validated IR.
//!
//! Layers, one type each: [`yaml`] (text → marked YAML tree) → [`source::SourceDoc`] (JSON value
//! after include resolution + span map) → [`validate`] (all rules; the one path shared by
//! start-up, reload and `onex validate`) → [`ir`] (normalised view) and [`graph`] (petgraph DAG,
//! waves).

pub mod codes;
pub mod source;
pub mod yaml;

pub use source::{LoadOptions, Loaded, Location, SourceDoc, load_file, load_str};
