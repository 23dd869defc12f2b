//! [`Consumer`] (group member) and [`Observer`] (group-less reader) on top of a back end:
//! decoding and validation of every consumed message, local redelivery after a nack with the
//! configured waits, and dead-lettering (undecodable, invalid, or failed too often).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::validate::{self, Failure, FailureRecord};
use super::{
    BusConfig, BusError, Delivery, Observed, Position, RawGroup, RawMessage, RawObserver, Role,
    Transport,
};
use crate::events::{Envelope, EventRegistry};

/// What [`Consumer::nack`] did with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NackOutcome {
    /// It will be delivered again (to this member) after the wait.
    Retry { after: Duration, attempt: u32 },
    /// Too many failed deliveries: it went to the dlq topic and was acked.
    DeadLettered { attempts: u32 },
}

struct Inflight {
    raw: RawMessage,
    envelope: Envelope,
    failures: u32,
    first_failed_at: Option<String>,
    /// Set while waiting for a local redelivery.
    due: Option<Instant>,
}

/// A member of a consumer group. Obtain one with [`super::EventBus::subscribe`]; call
/// [`Consumer::next`], handle the event, then [`Consumer::ack`] (or [`Consumer::nack`]).
/// Dropping a consumer without acking leaves its messages to be redelivered to the group.
pub struct Consumer {
    raw: Option<Box<dyn RawGroup>>,
    transport: Arc<dyn Transport>,
    events: Arc<EventRegistry>,
    cfg: BusConfig,
    role: Role,
    member: String,
    inflight: HashMap<Position, Inflight>,
    dead_lettered: u64,
    /// Messages to dead-letter whose dead letter the broker refused (it was unreachable).
    undead: std::collections::VecDeque<(RawMessage, Failure, u32)>,
}

impl Consumer {
    pub(crate) fn new(
        raw: Box<dyn RawGroup>,
        transport: Arc<dyn Transport>,
        events: Arc<EventRegistry>,
        cfg: BusConfig,
        role: Role,
        member: String,
    ) -> Self {
        Consumer {
            raw: Some(raw),
            transport,
            events,
            cfg,
            role,
            member,
            inflight: HashMap::new(),
            dead_lettered: 0,
            undead: Default::default(),
        }
    }

    /// This member's id within its group.
    pub fn member_id(&self) -> &str {
        &self.member
    }

    /// Messages this member sent to the dlq topic so far.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered
    }

    /// Messages delivered and not yet acked.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    fn raw(&mut self) -> Result<&mut Box<dyn RawGroup>, BusError> {
        self.raw
            .as_mut()
            .ok_or_else(|| BusError::Closed(format!("consumer {}", self.member)))
    }

    /// Wait until this member takes part in the group's work (Kafka: partitions assigned after
    /// the join). Returns false when `wait` passed first. Immediate on embedded and Redis.
    pub async fn wait_ready(&mut self, wait: Duration) -> Result<bool, BusError> {
        self.raw()?.ready(wait).await
    }

    /// The next valid event for this member, waiting at most `wait`; `None` when none came.
    /// Invalid messages met on the way are dead-lettered and skipped.
    ///
    /// Not cancellation-safe: a call dropped half-way (e.g. losing a `select!`) may leave a
    /// message assigned to this member unseen until its lease expires. Await it to the end.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let deadline = Instant::now() + wait;
        // Dead letters the broker refused earlier go first (until they go, their messages
        // stay held by this member and nobody else would ever take them).
        while let Some((msg, failure, attempts)) = self.undead.pop_front() {
            self.dead_letter_or_keep(msg, failure, attempts).await?;
        }
        loop {
            let now = Instant::now();
            // A nacked message whose wait is over comes first.
            let mut next_due: Option<Instant> = None;
            let mut ready_pos: Option<Position> = None;
            for (pos, f) in &self.inflight {
                if let Some(due) = f.due {
                    if due <= now {
                        ready_pos = Some(pos.clone());
                        break;
                    }
                    next_due = Some(next_due.map_or(due, |d: Instant| d.min(due)));
                }
            }
            if let Some(pos) = ready_pos
                && let Some(f) = self.inflight.get_mut(&pos)
            {
                f.due = None;
                return Ok(Some(Delivery {
                    envelope: f.envelope.clone(),
                    position: pos,
                    key: f.raw.key.clone(),
                    attempt: f.raw.deliveries.max(f.failures + 1),
                }));
            }
            let limit = next_due.map_or(deadline, |d| d.min(deadline));
            let left = limit.saturating_duration_since(now);
            let got = self.raw()?.next(left).await?;
            let Some(msg) = got else {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            };
            // Already held by this member (Kafka re-fetches after a rebalance that gave the
            // partition back): the first delivery is being handled, and its ack covers both.
            if self.inflight.contains_key(&msg.position) {
                continue;
            }
            let max = self.cfg.max_deliveries();
            let envelope = match validate::decode(&self.events, &msg.value) {
                Ok(env) => env,
                Err(failure) => {
                    let attempts = msg.deliveries.max(1);
                    self.dead_letter_or_keep(msg, failure, attempts).await?;
                    continue;
                }
            };
            // Delivered more often than allowed without an ack or nack: its handlers keep
            // dying (a crash loop). Dead-letter instead of killing the next member too.
            if msg.deliveries > max {
                let failure = Failure::Handler(format!(
                    "delivered {} times without being acknowledged (members died while handling it)",
                    msg.deliveries
                ));
                let attempts = msg.deliveries;
                self.dead_letter_or_keep(msg, failure, attempts).await?;
                continue;
            }
            let delivery = Delivery {
                envelope: envelope.clone(),
                position: msg.position.clone(),
                key: msg.key.clone(),
                attempt: msg.deliveries.max(1),
            };
            self.inflight.insert(
                msg.position.clone(),
                Inflight {
                    raw: msg,
                    envelope,
                    failures: 0,
                    first_failed_at: None,
                    due: None,
                },
            );
            return Ok(Some(delivery));
        }
    }

    /// The event was handled: the group will not deliver it again.
    ///
    /// When the back end cannot be reached the delivery stays held (acking it again later is
    /// the way out; until then the member keeps its lease on it).
    pub async fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        if !self.inflight.contains_key(&delivery.position) {
            return Err(BusError::UnknownDelivery(delivery.position.to_string()));
        }
        self.raw()?.ack(&delivery.position).await?;
        self.inflight.remove(&delivery.position);
        Ok(())
    }

    /// Handling failed (an infrastructure error, not a failed gate): redeliver after the next
    /// wait of `bus.retry_delays_ms`, or dead-letter once the deliveries are used up.
    pub async fn nack(
        &mut self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<NackOutcome, BusError> {
        let now = Envelope::now_timestamp();
        let max = self.cfg.max_deliveries();
        let Some(f) = self.inflight.get_mut(&delivery.position) else {
            return Err(BusError::UnknownDelivery(delivery.position.to_string()));
        };
        f.failures += 1;
        f.first_failed_at.get_or_insert_with(|| now.clone());
        let attempts = f.raw.deliveries.max(f.failures);
        let idx = (attempts as usize).saturating_sub(1);
        let delays = &self.cfg.retry_delays_ms;
        let after =
            Duration::from_millis(delays.get(idx).or(delays.last()).copied().unwrap_or(1000));
        if attempts >= max {
            let (raw, first) = (f.raw.clone(), f.first_failed_at.clone());
            let failure = Failure::Handler(reason.to_string());
            match self.dead_letter(&raw, &failure, attempts, first).await {
                Ok(()) => {
                    self.inflight.remove(&delivery.position);
                    return Ok(NackOutcome::DeadLettered { attempts });
                }
                Err(e) => {
                    // The broker is away (the failures were probably its absence too): the
                    // message must neither be lost nor sit held forever. Deliver it again
                    // after the last wait; once the broker is back it runs or, failing
                    // again, is dead-lettered.
                    tracing::warn!(position = %delivery.position, error = %e, "dead-lettering failed; delivering again in {after:?}");
                    if let Some(f) = self.inflight.get_mut(&delivery.position) {
                        f.due = Some(Instant::now() + after);
                    }
                    return Ok(NackOutcome::Retry {
                        after,
                        attempt: attempts + 1,
                    });
                }
            }
        }
        f.due = Some(Instant::now() + after);
        Ok(NackOutcome::Retry {
            after,
            attempt: attempts + 1,
        })
    }

    /// Dead-letter `msg`; when the broker cannot take it now, keep it for the next call of
    /// [`Consumer::next`] and return that error.
    async fn dead_letter_or_keep(
        &mut self,
        msg: RawMessage,
        failure: Failure,
        attempts: u32,
    ) -> Result<(), BusError> {
        match self.dead_letter(&msg, &failure, attempts, None).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.undead.push_back((msg, failure, attempts));
                Err(e)
            }
        }
    }

    /// Deliver again after `after` without counting a failed delivery: for work that could not
    /// be done because the bus itself was away (a broker outage must not use up the retries
    /// and dead-letter triggers that never had a chance).
    pub fn postpone(&mut self, delivery: &Delivery, after: Duration) -> Result<(), BusError> {
        let Some(f) = self.inflight.get_mut(&delivery.position) else {
            return Err(BusError::UnknownDelivery(delivery.position.to_string()));
        };
        f.due = Some(Instant::now() + after);
        Ok(())
    }

    /// Publish a DeadLettered envelope for `msg`, then ack `msg`.
    async fn dead_letter(
        &mut self,
        msg: &RawMessage,
        failure: &Failure,
        attempts: u32,
        first_failed_at: Option<String>,
    ) -> Result<(), BusError> {
        let now = Envelope::now_timestamp();
        let rec = FailureRecord {
            failure,
            attempts,
            first_failed_at: first_failed_at.unwrap_or_else(|| now.clone()),
            last_failed_at: now,
        };
        let env = validate::dead_letter(
            msg,
            &rec,
            self.role,
            &self.member,
            self.cfg.max_message_bytes,
        );
        let value = serde_json::to_vec(&env).map_err(|e| BusError::Decode {
            origin: "dead letter".into(),
            detail: e.to_string(),
        })?;
        let topic = validate::dlq_topic(&self.cfg.topic_prefix);
        let key = env.correlation_id.to_string();
        tracing::warn!(
            original = %msg.position,
            kind = failure.kind(),
            reason = failure.message(),
            "dead-lettering message"
        );
        self.transport
            .send(&topic, &key, &value, Some(&env))
            .await?;
        self.raw()?.ack(&msg.position).await?;
        self.dead_lettered += 1;
        Ok(())
    }

    /// Leave the group. Unacked messages go back to the group (Kafka at once; embedded and
    /// Redis after the lease).
    pub async fn close(mut self) -> Result<(), BusError> {
        match self.raw.take() {
            Some(raw) => raw.close().await,
            None => Ok(()),
        }
    }
}

/// A group-less reader of one or more topics. Messages that are not valid envelopes are
/// skipped (logged, counted): dead-lettering is the group consumers' job.
pub struct Observer {
    raw: Box<dyn RawObserver>,
    events: Arc<EventRegistry>,
    skipped: u64,
}

impl Observer {
    pub(crate) fn new(raw: Box<dyn RawObserver>, events: Arc<EventRegistry>) -> Self {
        Observer {
            raw,
            events,
            skipped: 0,
        }
    }

    /// Invalid messages skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next event, waiting at most `wait`; `None` when none came.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Observed>, BusError> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(msg) = self.raw.next(left).await? else {
                return Ok(None);
            };
            match validate::decode(&self.events, &msg.value) {
                Ok(envelope) => {
                    return Ok(Some(Observed {
                        envelope,
                        position: msg.position,
                        key: msg.key,
                    }));
                }
                Err(f) => {
                    self.skipped += 1;
                    tracing::warn!(position = %msg.position, reason = %f, "observer skips invalid message");
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
            }
        }
    }
}
