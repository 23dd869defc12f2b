//! Pipeline events: the envelope every event travels in (generation-pipeline spec §5.1) and the
//! event catalogue (§5.3), which is data in `contracts/` and is loaded, not hard-coded.

mod envelope;

pub use envelope::{SCHEMA_VERSION, Component, Envelope, EventSource, EventStatus, TraceContext};
