//! Pipeline events: the envelope every event travels in (generation-pipeline spec §5.1) and the
//! event catalogue (§5.3), which is data in `contracts/` and is loaded, not hard-coded.

pub mod catalog;
mod envelope;

pub use catalog::{
    CatalogError, EventCatalog, EventDef, PayloadError, StageScope, Violation, ViolationKind,
};
pub use envelope::{Component, Envelope, EventSource, EventStatus, SCHEMA_VERSION, TraceContext};
