//! Typed errors of the event bus. Every variant names what failed and where; callers map
//! [`BusError::Unreachable`] to the CLI's exit code 4.

use std::fmt;

/// An event bus failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker (or the embedded log's file) cannot be reached or opened.
    #[error("event bus unreachable ({backend} at {target}): {detail}")]
    Unreachable {
        backend: &'static str,
        target: String,
        detail: String,
    },
    /// A message is larger than `bus.max_message_bytes`.
    #[error("message of {size} bytes for topic {topic} exceeds bus.max_message_bytes = {limit}")]
    TooLarge {
        topic: String,
        size: usize,
        limit: usize,
    },
    /// Bytes that are not an event envelope (consume side) or an envelope that cannot be encoded.
    #[error("cannot decode message from {origin}: {detail}")]
    Decode { origin: String, detail: String },
    /// An envelope refused on publish (unknown event type, payload against its JSON Schema, ...).
    #[error("invalid {event_type} event: {detail}")]
    Invalid { event_type: String, detail: String },
    /// A bad `bus.*` setting or URL.
    #[error("bad bus configuration: {0}")]
    Config(String),
    /// The broker answered with an error.
    #[error("{backend} error during {operation}: {detail}")]
    Broker {
        backend: &'static str,
        operation: String,
        detail: String,
    },
    /// A publish or a broker call did not finish in time.
    #[error("{backend}: {operation} timed out after {millis} ms")]
    Timeout {
        backend: &'static str,
        operation: String,
        millis: u128,
    },
    /// `ack`/`nack` for a delivery this consumer does not hold (already acked, or foreign).
    #[error("unknown delivery {0} (already acknowledged, or not delivered by this consumer)")]
    UnknownDelivery(String),
    /// The consumer or observer was closed, or its background worker stopped.
    #[error("{0} is closed")]
    Closed(String),
}

impl BusError {
    pub(crate) fn broker(
        backend: &'static str,
        operation: impl Into<String>,
        e: impl fmt::Display,
    ) -> Self {
        BusError::Broker {
            backend,
            operation: operation.into(),
            detail: e.to_string(),
        }
    }

    /// True when the failure means the bus cannot be reached (CLI exit code 4).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            BusError::Unreachable { .. } | BusError::Timeout { .. }
        )
    }
}
