//! Following a run from the outside (a client on the bus — the CLI; node generation's
//! NodeCLIAdapterEffect is this): subscribe to the run topics (no consumer group, from the end —
//! before publishing, so nothing is missed), publish the trigger, then follow the run: events
//! filtered by correlation_id, released in seq order (a missing seq is waited for 2 s, then
//! reported), until the terminal event; the result is rebuilt from the events alone.

use crate::bus::order::{Ordered, RunOrderer};
use crate::bus::{BusError, EventBus, ObserveFrom, Observer};
use crate::events::Envelope;
use crate::pipeline::RunResult;
use crate::pipeline::replay;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How following a run ended.
#[derive(Debug)]
pub enum Followed {
    /// The terminal event arrived; the result rebuilt from the run's events.
    Finished(Box<RunResult>),
    /// The deadline passed first (the run goes on).
    TimedOut,
}

/// What the adapter reports while following a run.
pub enum Progress<'a> {
    Event(&'a Envelope),
    /// Seqs `from..to` did not arrive within the gap wait.
    Gap {
        from: u64,
        to: u64,
    },
}

pub struct RunFollower {
    bus: Arc<dyn EventBus>,
    /// The workflow's stages, in order (skipped stages get a record too).
    stage_ids: Vec<String>,
}

impl RunFollower {
    pub fn new(bus: Arc<dyn EventBus>, stage_ids: Vec<String>) -> Self {
        RunFollower { bus, stage_ids }
    }

    /// Observe every run topic (the dead letters aside) from now.
    pub async fn subscribe(&self) -> Result<Observer, BusError> {
        let topics = self
            .bus
            .events()
            .run_topics(&self.bus.config().topic_prefix);
        self.bus.observe(&topics, ObserveFrom::End).await
    }

    /// Publishes the trigger; returns how long the publish took (acked by the bus).
    pub async fn publish(&self, trigger: &Envelope) -> Result<Duration, BusError> {
        let t0 = Instant::now();
        self.bus.publish(trigger).await?;
        Ok(t0.elapsed())
    }

    /// Follows run `id` on `observer` until its terminal event or `deadline`.
    pub async fn follow(
        &self,
        observer: &mut Observer,
        id: Uuid,
        deadline: Instant,
        mut on: impl FnMut(Progress<'_>),
    ) -> Result<Followed, BusError> {
        let mut orderer = RunOrderer::default();
        let mut events = Vec::new();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(Followed::TimedOut);
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            let released = match observer.next(wait).await? {
                Some(o) if o.envelope.correlation_id == id => orderer.push(o.envelope),
                _ => orderer.flush_gaps(Instant::now()),
            };
            let mut terminal = false;
            for item in released {
                match item {
                    Ordered::Event(e) => {
                        terminal |= e.is_terminal();
                        on(Progress::Event(&e));
                        events.push(e);
                    }
                    Ordered::Gap { from, to, .. } => on(Progress::Gap { from, to }),
                }
            }
            if terminal {
                return match replay::rebuild(&events, Some(&self.stage_ids)) {
                    Some(r) => Ok(Followed::Finished(Box::new(r))),
                    None => Err(BusError::Config(
                        "the run's terminal event arrived without its outcome".into(),
                    )),
                };
            }
        }
    }
}
