//! Publishing a run's events on the bus.

use crate::bus::{EventBus, RunState, RunStatus};
use crate::events::Envelope;
use crate::pipeline::handler::BoxFuture;
use crate::pipeline::run::{EventSink, SinkError};
use std::sync::{Arc, Mutex};

/// An [`EventSink`] that publishes every event and remembers the run's terminal event (the
/// run-state record keeps it, so a duplicate trigger re-publishes it unchanged).
pub struct BusSink {
    bus: Arc<dyn EventBus>,
    terminal: Mutex<Option<Envelope>>,
    /// Owner and attempt to record in the run-state record with the terminal event.
    record: Option<(String, u32)>,
}

impl BusSink {
    pub fn new(bus: Arc<dyn EventBus>) -> Self {
        BusSink {
            bus,
            terminal: Mutex::new(None),
            record: None,
        }
    }

    /// Records the run as finished, with its terminal event, *before* that event is published:
    /// an orchestrator that dies in between leaves a record whose terminal event a redelivery
    /// publishes (unchanged), instead of a run that would execute a second time.
    pub fn recording_run_state(mut self, owner: String, attempt: u32) -> Self {
        self.record = Some((owner, attempt));
        self
    }

    /// The run's terminal envelope, once published.
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
            let terminal = event.is_terminal();
            if terminal && let Some((owner, attempt)) = &self.record {
                let state = RunState {
                    correlation_id: event.correlation_id,
                    status: if event.status == crate::events::EventStatus::Completed {
                        RunStatus::Completed
                    } else {
                        RunStatus::Failed
                    },
                    terminal: Some(event.clone()),
                    attempt: *attempt,
                    owner: Some(owner.clone()),
                    updated_at: Envelope::now_timestamp(),
                    workflow: event.workflow.clone(),
                };
                let recorded = self.bus.update_run(&state).await.map_err(|e| SinkError {
                    event_type: event.event_type.clone(),
                    seq: event.seq,
                    message: format!("recording the finished run: {e}"),
                })?;
                if !recorded {
                    // Another attempt of this run finished first (this one was taken over
                    // after missed heartbeats): its terminal event is the run's only one.
                    return Err(SinkError {
                        event_type: event.event_type.clone(),
                        seq: event.seq,
                        message: "another attempt of this run already recorded its terminal event"
                            .into(),
                    });
                }
            }
            self.bus.publish(event).await.map_err(|e| SinkError {
                event_type: event.event_type.clone(),
                seq: event.seq,
                message: e.to_string(),
            })?;
            crate::service::orchestrator::metrics::published(&event.event_type);
            if terminal {
                *self.terminal.lock().unwrap_or_else(|p| p.into_inner()) = Some(event.clone());
            }
            Ok(())
        })
    }
}
