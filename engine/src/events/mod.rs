//! Events: the envelope every event travels in, event catalogues (data files that workflows
//! name, loaded at run time) and the registry of the catalogues a process has loaded, which the
//! executor and the bus share (docs/contracts.md "Event catalogues").

pub mod catalog;
mod envelope;
mod registry;

pub use registry::{EventRegistry, RegistryError};

pub use catalog::{
    CatalogError, EventCatalog, EventDef, PayloadError, StageScope, Violation, ViolationKind,
};
pub use envelope::{
    Component, Envelope, EventSource, EventStatus, OutcomeStatus, RunFailure, RunOutcome,
    SCHEMA_VERSION, TraceContext, WorkflowRef,
};
