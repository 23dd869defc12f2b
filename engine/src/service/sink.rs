//! Publishing a run's events on the bus.

use crate::bus::EventBus;
use crate::events::Envelope;
use crate::pipeline::handler::BoxFuture;
use crate::pipeline::run::{EventSink, SinkError};
use std::sync::{Arc, Mutex};

/// An [`EventSink`] that publishes every event and remembers the run's terminal event (the
/// run-state record keeps it, so a duplicate trigger re-publishes it unchanged).
pub struct BusSink {
    bus: Arc<dyn EventBus>,
    terminal: Mutex<Option<Envelope>>,
    /// Also hand each published event to a local observer (in-process display).
    tap: Option<tokio::sync::mpsc::UnboundedSender<Envelope>>,
}

impl BusSink {
    pub fn new(bus: Arc<dyn EventBus>) -> Self {
        BusSink {
            bus,
            terminal: Mutex::new(None),
            tap: None,
        }
    }

    /// The PipelineCompleted / PipelineFailed envelope, once published.
    pub fn terminal(&self) -> Option<Envelope> {
        self.terminal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl EventSink for BusSink {
    fn emit<'a>(&'a self, event: &'a Envelope) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.bus.publish(event).await.map_err(|e| SinkError {
                event_type: event.event_type.clone(),
                seq: event.seq,
                message: e.to_string(),
            })?;
            crate::service::orchestrator::metrics::published(&event.event_type);
            if event.stage == "pipeline" && event.event_type != "PromptSubmitted" {
                *self.terminal.lock().unwrap_or_else(|p| p.into_inner()) = Some(event.clone());
            }
            if let Some(tap) = &self.tap {
                let _ = tap.send(event.clone());
            }
            Ok(())
        })
    }
}
