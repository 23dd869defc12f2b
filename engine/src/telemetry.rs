//! Distributed tracing without a tracing backend in the engine: the engine's spans carry each
//! run's W3C `traceparent`, and two hooks, installed by the binary when it exports traces (the
//! CLI's `otlp` feature), link a run's span to its caller's trace and give a new run the
//! caller's current trace context.

use std::sync::OnceLock;

/// What an exporter plugs in.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Makes `span` a child of the remote span named by `traceparent`.
    pub link_parent: fn(&tracing::Span, &str),
    /// The `traceparent` of the current span, if it is being traced.
    pub current_traceparent: fn() -> Option<String>,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs the hooks (once per process; later calls are ignored).
pub fn install(hooks: Hooks) {
    let _ = HOOKS.set(hooks);
}

pub(crate) fn link_parent(span: &tracing::Span, traceparent: &str) {
    if let Some(h) = HOOKS.get() {
        (h.link_parent)(span, traceparent);
    }
}

pub(crate) fn current_traceparent() -> Option<String> {
    HOOKS.get().and_then(|h| (h.current_traceparent)())
}
