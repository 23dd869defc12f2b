//! The event bus: one [`EventBus`] trait and its back ends — embedded (SQLite log, default),
//! Kafka (rdkafka, cargo feature `kafka`) and Redis Streams (feature `redis`) — chosen by
//! `bus.url` in [`connect`]. The bus knows event types and topics from the event catalogues
//! of the workflows a process loaded ([`EventRegistry`]).
//!
//! Layout: `config` (settings, URL), `error` ([`BusError`]), `consumer` (group consumption and
//! observation on top of a back end: decoding, validation, retries, dead letters), `validate`
//! (envelope checks against the event catalogue, DeadLettered envelopes), `order` (a run's
//! events in `seq` order), and one module per back end implementing the internal
//! `Transport` trait.

mod config;
mod consumer;
mod embedded;
mod error;
#[cfg(feature = "kafka")]
mod kafka;
pub mod order;
#[cfg(feature = "redis")]
mod redis_streams;
mod validate;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::{Envelope, EventRegistry};

pub use config::{BusConfig, BusUrl, EMBEDDED_FILE, Retention, Role, default_state_dir};
pub use consumer::{Consumer, NackOutcome, Observer};
pub use error::BusError;

/// Decodes and checks consumed bytes exactly as every consumer does before handling them; the
/// error reads `<dead-letter kind>: <why>`. Public for the fuzz target `envelope_decode`
/// (docs/RELIABILITY.md "Fuzzing").
pub fn decode_envelope(events: &EventRegistry, value: &[u8]) -> Result<Envelope, String> {
    validate::decode(events, value).map_err(|f| f.to_string())
}

/// A boxed, `Send` future: what the object-safe async methods of [`EventBus`] return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a message sits in its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Offset {
    /// Kafka offset, or the embedded log's row id.
    Index(i64),
    /// Redis stream entry id `ms-seq`.
    Stream { ms: u64, seq: u64 },
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Index(i) => write!(f, "{i}"),
            Offset::Stream { ms, seq } => write!(f, "{ms}-{seq}"),
        }
    }
}

impl FromStr for Offset {
    type Err = BusError;
    fn from_str(s: &str) -> Result<Self, BusError> {
        let bad = || {
            BusError::Config(format!(
                "offset `{s}`: expected an integer or a stream id MS-SEQ"
            ))
        };
        match s.split_once('-') {
            Some((ms, seq)) if !ms.is_empty() => Ok(Offset::Stream {
                ms: ms.parse().map_err(|_| bad())?,
                seq: seq.parse().map_err(|_| bad())?,
            }),
            _ => Ok(Offset::Index(s.parse().map_err(|_| bad())?)),
        }
    }
}

/// A message's address: topic, partition (0 where the back end has none) and offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub topic: String,
    pub partition: i32,
    pub offset: Offset,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]@{}", self.topic, self.partition, self.offset)
    }
}

/// Where an observer starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserveFrom {
    /// Only messages published after `observe` returned (the CLI subscribes before it publishes).
    End,
    /// Everything still retained.
    Beginning,
    /// Each listed topic/partition from its position (inclusive); unlisted ones from the beginning.
    Positions(Vec<Position>),
}

/// One delivery to a group member; hand it back with [`Consumer::ack`] or [`Consumer::nack`].
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    pub position: Position,
    /// Message key (the correlation_id as published).
    pub key: Option<String>,
    /// 1 on first delivery; higher after a nack or after a member died holding it.
    pub attempt: u32,
}

/// One event seen by an [`Observer`].
#[derive(Debug, Clone)]
pub struct Observed {
    pub envelope: Envelope,
    pub position: Position,
    pub key: Option<String>,
}

/// Lifecycle of a run in the run-state record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    InProgress,
    Completed,
    Failed,
}

/// The run-state record per correlation_id (docs/bus.md "Run state"): a duplicate trigger of a
/// finished run re-publishes `terminal` unchanged; for a run in progress it is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub correlation_id: Uuid,
    pub status: RunStatus,
    /// The recorded terminal envelope once the run finished.
    #[serde(default)]
    pub terminal: Option<Envelope>,
    /// Attempt of the run that wrote this record.
    #[serde(default = "one")]
    pub attempt: u32,
    /// Instance id of the orchestrator that owns the run.
    #[serde(default)]
    pub owner: Option<String>,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
    /// The workflow version the run started on (it finishes on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<crate::events::WorkflowRef>,
}

impl RunState {
    /// The record as every back end stores it (JSON).
    pub(crate) fn to_json(&self) -> Result<String, BusError> {
        serde_json::to_string(self).map_err(|e| BusError::Decode {
            origin: format!("run state {}", self.correlation_id),
            detail: e.to_string(),
        })
    }

    /// A stored record; `origin` names where it was read (for the error).
    pub(crate) fn from_json(
        text: &[u8],
        origin: impl std::fmt::Display,
    ) -> Result<RunState, BusError> {
        serde_json::from_slice(text).map_err(|e| BusError::Decode {
            origin: format!("run state {origin}"),
            detail: e.to_string(),
        })
    }
}

fn one() -> u32 {
    1
}

/// What [`EventBus::claim_run`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller owns the run now; the record written (its attempt is the run's).
    Won(RunState),
    /// The run had finished: its record.
    Finished(RunState),
    /// Another live orchestrator runs it: its record.
    Held(RunState),
}

/// True while `state` was refreshed less than `stale_after` ago (an unreadable time is stale).
fn fresh(state: &RunState, stale_after: Duration) -> bool {
    match state.updated_at.parse::<jiff::Timestamp>() {
        Ok(t) => jiff::Timestamp::now().duration_since(t).unsigned_abs() < stale_after,
        Err(_) => false,
    }
}

/// Whether an update to `next` is allowed over the record `prev` ([`EventBus::update_run`]).
fn update_allowed(prev: Option<&RunState>, next: &RunState) -> bool {
    match (prev, next.status) {
        (Some(p), _) if p.status != RunStatus::InProgress => false,
        (Some(p), RunStatus::InProgress) => p.owner == next.owner && p.attempt == next.attempt,
        (None, RunStatus::InProgress) => false,
        _ => true,
    }
}

/// Compare-and-set attempts before a claim or update gives up (each lost race means another
/// writer made progress, so this is only reached under a storm of writers).
const SWAP_TRIES: usize = 32;

/// Result of [`EventBus::health`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub backend: &'static str,
    /// Path or broker list.
    pub target: String,
    /// Round trip of the probe.
    pub round_trip: Duration,
}

/// The event bus (docs/bus.md).
///
/// # Guarantees (every back end)
/// - **At-least-once delivery.** A publish returns once the back end has durably accepted the
///   message (embedded: committed to the WAL; Kafka: `acks=all`; Redis: `XADD` replied, durable
///   as far as the server's AOF setting goes). Consumers must de-duplicate on `event_id` /
///   `correlation_id`.
/// - **Redelivery.** A message delivered to a group member that dies before acking is
///   redelivered to another member of the group: embedded and Redis after `bus.lease_ms`
///   without a lease renewal (live members renew in the background; Redis via `XAUTOCLAIM`),
///   Kafka after `session.timeout.ms` (uncommitted offsets are re-read).
/// - **Dead letters.** A nacked message is redelivered after 1 s, then 2 s
///   (`bus.retry_delays_ms`); on its 3rd failed delivery it goes to the `dlq` topic as a
///   DeadLettered envelope (seq 0) and is acked. Undecodable messages, an unknown schema major
///   and payloads failing their JSON Schema are dead-lettered on consume at once, and
///   consumption continues.
/// - **Order.** Observers see each partition (Kafka) / stream (Redis) / topic (embedded) in
///   publish order. Nothing orders across topics: a run is ordered by `seq` ([`order`]).
///   Group members on Kafka own whole partitions, so one key (correlation_id) stays with one
///   member; **Redis consumer groups have no per-key affinity** — entries of one stream are
///   spread over members regardless of key. The embedded group hands out messages in log order
///   to whichever member asks, also without key affinity.
/// - **Encoding.** Message key = correlation_id; value = the envelope as JSON, on every back end
///   (Kafka adds CloudEvents 1.0 binary-mode headers).
/// - **Size.** A value over `bus.max_message_bytes` fails with [`BusError::TooLarge`].
/// - **Prefix.** `bus.topic_prefix` prefixes every topic, `dlq` and `runs` included.
///
/// Methods never panic; every failure is a typed [`BusError`].
pub trait EventBus: Send + Sync {
    /// `embedded`, `kafka` or `redis`.
    fn backend(&self) -> &'static str;
    fn config(&self) -> &BusConfig;
    /// Topic of an event type from the catalogue, with the prefix.
    fn topic(&self, event_type: &str) -> Result<String, BusError>;
    /// Every topic of the loaded catalogues (prefix included), the `dlq` topic among them.
    fn all_topics(&self) -> Vec<String>;
    /// `<prefix>onex.dlq`.
    fn dlq_topic(&self) -> String;
    /// The event catalogues this bus validates against.
    fn events(&self) -> &Arc<EventRegistry>;
    /// Validate (unless `bus.validate_on_publish = false`), encode and publish an envelope to
    /// its event type's topic; returns once acknowledged, with the message's position.
    fn publish<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Position, BusError>>;
    /// Publish bytes as they are (no validation; the size limit still applies). For tools and
    /// tests (poison messages); events go through [`EventBus::publish`].
    fn publish_raw<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<Position, BusError>>;
    /// Join `group` on `topics` (work sharing). A new group starts at the oldest retained
    /// message. The group id carries `bus.topic_prefix` too.
    fn subscribe<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<Consumer, BusError>>;
    /// Read `topics` without a group (every observer sees everything). With
    /// [`ObserveFrom::End`], every message published after this returns is seen.
    fn observe<'a>(
        &'a self,
        topics: &'a [String],
        from: ObserveFrom,
    ) -> BoxFuture<'a, Result<Observer, BusError>>;
    /// The run-state record of `correlation_id`, if any (reads its own writes).
    fn get_run_state<'a>(
        &'a self,
        correlation_id: Uuid,
    ) -> BoxFuture<'a, Result<Option<RunState>, BusError>>;
    /// Write the run-state record (last write wins). For tools and tests; the orchestrator
    /// goes through [`EventBus::claim_run`] and [`EventBus::update_run`].
    fn put_run_state<'a>(&'a self, state: &'a RunState) -> BoxFuture<'a, Result<(), BusError>>;
    /// Take the run `correlation_id` for `owner`, atomically (docs/bus.md "Run state"): no
    /// record → attempt 1; a finished run → [`Claim::Finished`]; a run in progress whose owner
    /// is another orchestrator that refreshed it within `stale_after` → [`Claim::Held`];
    /// otherwise (its owner stopped heartbeating, or it is `owner`'s own record of an attempt
    /// that no longer runs) → the next attempt. Of several concurrent claims exactly one wins.
    /// A record that does not decode is quarantined (copied to the dlq topic) and replaced.
    fn claim_run<'a>(
        &'a self,
        correlation_id: Uuid,
        owner: &'a str,
        workflow: Option<crate::events::WorkflowRef>,
        stale_after: Duration,
    ) -> BoxFuture<'a, Result<Claim, BusError>>;
    /// Write `state` if the record still allows it, atomically: a heartbeat (in progress) only
    /// while the record is the same owner's same attempt; a finished run only while the record
    /// is not finished (the first terminal wins). False when refused.
    fn update_run<'a>(&'a self, state: &'a RunState) -> BoxFuture<'a, Result<bool, BusError>>;
    /// Probe the back end.
    fn health(&self) -> BoxFuture<'_, Result<Health, BusError>>;
    /// Consumer lag: messages on `topics` that group `group` has not acknowledged yet (not yet
    /// delivered, or delivered and unacked). A group that never consumed counts everything
    /// retained (it would start at the oldest message).
    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>>;
}

/// A message as a back end hands it over, before decoding.
#[derive(Debug, Clone)]
pub(crate) struct RawMessage {
    pub position: Position,
    pub key: Option<String>,
    pub value: Vec<u8>,
    /// Deliveries of this message to the group so far, this one included, when the back end
    /// counts them (embedded, Redis); 0 when unknown (Kafka, observers).
    pub deliveries: u32,
}

/// What a back end implements; [`Bus`] adds validation, consumers add decoding and dead letters.
pub(crate) trait Transport: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn target(&self) -> String;
    fn send<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
        envelope: Option<&'a Envelope>,
    ) -> BoxFuture<'a, Result<Position, BusError>>;
    fn group<'a>(
        &'a self,
        group: &'a str,
        member: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<Box<dyn RawGroup>, BusError>>;
    fn observer<'a>(
        &'a self,
        topics: &'a [String],
        from: &'a ObserveFrom,
    ) -> BoxFuture<'a, Result<Box<dyn RawObserver>, BusError>>;
    /// The stored run-state record of `id` as bytes (decoded by [`Bus`]).
    fn get_run_record<'a>(&'a self, id: Uuid) -> BoxFuture<'a, Result<Option<Vec<u8>>, BusError>>;
    /// Write the record of `id` unconditionally.
    fn put_run_record<'a>(
        &'a self,
        id: Uuid,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BusError>>;
    /// Replace the record of `id` by `value` if it is still `expected` (byte for byte; `None`:
    /// absent), atomically with respect to every other writer (Kafka: every writer of this
    /// process; across processes the partition owner rule applies, docs/bus.md). True when
    /// written.
    fn swap_run_record<'a>(
        &'a self,
        id: Uuid,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, BusError>>;
    fn health(&self) -> BoxFuture<'_, Result<(), BusError>>;
    /// See [`EventBus::lag`]; `group` is the back end's group id (prefix included).
    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>>;
}

/// A back end's group membership.
pub(crate) trait RawGroup: Send {
    /// The next message, waiting at most `wait`.
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>>;
    fn ack<'a>(&'a mut self, position: &'a Position) -> BoxFuture<'a, Result<(), BusError>>;
    /// True once this member takes part in the group's work (Kafka: has an assignment).
    fn ready(&mut self, wait: Duration) -> BoxFuture<'_, Result<bool, BusError>>;
    /// Leave the group; unacked messages go back to the group.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>>;
}

/// A back end's group-less reader.
pub(crate) trait RawObserver: Send {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>>;
}

/// The one [`EventBus`] implementation: common rules on top of a [`Transport`].
pub(crate) struct Bus {
    cfg: BusConfig,
    role: Role,
    transport: Arc<dyn Transport>,
    events: Arc<EventRegistry>,
}

/// Open the bus that `cfg.url` names, for the event types of `events`. `role` selects
/// per-role settings (Kafka idempotence). Fails with [`BusError::Unreachable`] when the back
/// end cannot be reached.
pub async fn connect(
    cfg: &BusConfig,
    role: Role,
    events: Arc<EventRegistry>,
) -> Result<Arc<dyn EventBus>, BusError> {
    if cfg.max_message_bytes == 0 {
        return Err(BusError::Config("bus.max_message_bytes must be > 0".into()));
    }
    let transport: Arc<dyn Transport> = match cfg.backend_url()? {
        BusUrl::Embedded(path) => Arc::new(embedded::Embedded::open(cfg, &path).await?),
        #[cfg(feature = "redis")]
        BusUrl::Redis(url) => Arc::new(redis_streams::RedisBus::connect(cfg, &url).await?),
        #[cfg(feature = "kafka")]
        BusUrl::Kafka(servers) => Arc::new(kafka::Kafka::connect(cfg, role, &servers).await?),
        #[cfg(not(feature = "redis"))]
        BusUrl::Redis(_) => {
            return Err(BusError::Config(
                "this onex was built without the Redis back end (cargo feature `redis`)".into(),
            ));
        }
        #[cfg(not(feature = "kafka"))]
        BusUrl::Kafka(_) => {
            return Err(BusError::Config(
                "this onex was built without the Kafka back end (cargo feature `kafka`)".into(),
            ));
        }
    };
    Ok(Arc::new(Bus {
        cfg: cfg.clone(),
        role,
        transport,
        events,
    }))
}

impl Bus {
    fn check_size(&self, topic: &str, len: usize) -> Result<(), BusError> {
        if len > self.cfg.max_message_bytes {
            return Err(BusError::TooLarge {
                topic: topic.to_string(),
                size: len,
                limit: self.cfg.max_message_bytes,
            });
        }
        Ok(())
    }
}

impl Bus {
    fn record_origin(&self, id: Uuid) -> String {
        format!(
            "{id} in {} ({})",
            validate::runs_topic(&self.cfg.topic_prefix),
            self.transport.name()
        )
    }

    fn encode_state(&self, state: &RunState) -> Result<Vec<u8>, BusError> {
        let value = state.to_json()?.into_bytes();
        self.check_size(&validate::runs_topic(&self.cfg.topic_prefix), value.len())?;
        Ok(value)
    }

    fn swap_exhausted(&self, id: Uuid) -> BusError {
        BusError::broker(
            self.transport.name(),
            format!("run state {id}"),
            format!("the record changed under {SWAP_TRIES} consecutive updates"),
        )
    }

    /// The record's bytes and, when they decode, the record. A record that does not decode is
    /// quarantined: logged, copied to the dlq topic as a DeadLettered envelope, and treated as
    /// absent (the caller's compare-and-set replaces exactly those bytes).
    async fn read_record(&self, id: Uuid) -> Result<(Option<Vec<u8>>, Option<RunState>), BusError> {
        let Some(raw) = self.transport.get_run_record(id).await? else {
            return Ok((None, None));
        };
        match RunState::from_json(&raw, self.record_origin(id)) {
            Ok(st) if st.correlation_id == id => Ok((Some(raw), Some(st))),
            Ok(st) => {
                let e = BusError::Decode {
                    origin: format!("run state {}", self.record_origin(id)),
                    detail: format!("the record is for another run ({})", st.correlation_id),
                };
                self.quarantine(id, &raw, &e).await?;
                Ok((Some(raw), None))
            }
            Err(e) => {
                self.quarantine(id, &raw, &e).await?;
                Ok((Some(raw), None))
            }
        }
    }

    async fn quarantine(&self, id: Uuid, raw: &[u8], e: &BusError) -> Result<(), BusError> {
        tracing::error!(correlation_id = %id, error = %e, "corrupt run-state record quarantined to the dlq topic and replaced");
        let msg = RawMessage {
            position: Position {
                topic: validate::runs_topic(&self.cfg.topic_prefix),
                partition: 0,
                offset: Offset::Index(0),
            },
            key: Some(id.to_string()),
            value: raw.to_vec(),
            deliveries: 1,
        };
        let now = Envelope::now_timestamp();
        let failure = validate::Failure::Decode(e.to_string());
        let rec = validate::FailureRecord {
            failure: &failure,
            attempts: 1,
            first_failed_at: now.clone(),
            last_failed_at: now,
        };
        let env = validate::dead_letter(
            &msg,
            &rec,
            self.role,
            "run-state",
            self.cfg.max_message_bytes,
        );
        let value = serde_json::to_vec(&env).map_err(|e| BusError::Decode {
            origin: "dead letter".into(),
            detail: e.to_string(),
        })?;
        self.transport
            .send(&self.dlq_topic(), &id.to_string(), &value, Some(&env))
            .await
            .map(|_| ())
    }
}

impl EventBus for Bus {
    fn backend(&self) -> &'static str {
        self.transport.name()
    }

    fn config(&self) -> &BusConfig {
        &self.cfg
    }

    fn topic(&self, event_type: &str) -> Result<String, BusError> {
        validate::topic(&self.events, &self.cfg.topic_prefix, event_type).ok_or_else(|| {
            BusError::Invalid {
                event_type: event_type.to_string(),
                detail: "not an event type of the catalogue".into(),
            }
        })
    }

    fn all_topics(&self) -> Vec<String> {
        validate::all_topics(&self.events, &self.cfg.topic_prefix)
    }

    fn events(&self) -> &Arc<EventRegistry> {
        &self.events
    }

    fn dlq_topic(&self) -> String {
        validate::dlq_topic(&self.cfg.topic_prefix)
    }

    fn publish<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Position, BusError>> {
        Box::pin(async move {
            let topic = self.topic(&envelope.event_type)?;
            if self.cfg.validate_on_publish {
                validate::check(&self.events, envelope).map_err(|f| BusError::Invalid {
                    event_type: envelope.event_type.clone(),
                    detail: f.message().to_string(),
                })?;
            }
            let value = serde_json::to_vec(envelope).map_err(|e| BusError::Decode {
                origin: format!("envelope {}", envelope.event_id),
                detail: e.to_string(),
            })?;
            self.check_size(&topic, value.len())?;
            let key = envelope.correlation_id.to_string();
            self.transport
                .send(&topic, &key, &value, Some(envelope))
                .await
        })
    }

    fn publish_raw<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<Position, BusError>> {
        Box::pin(async move {
            self.check_size(topic, value.len())?;
            self.transport.send(topic, key, value, None).await
        })
    }

    fn subscribe<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<Consumer, BusError>> {
        Box::pin(async move {
            if topics.is_empty() {
                return Err(BusError::Config(format!("subscribe({group}): no topics")));
            }
            // Kafka group ids are broker-wide: the prefix keeps environments (and parallel
            // tests) sharing a broker apart, as it does for topics.
            let group = format!("{}{group}", self.cfg.topic_prefix);
            let member = format!("{}-{}", group, Uuid::now_v7().simple());
            let raw = self.transport.group(&group, &member, topics).await?;
            Ok(Consumer::new(
                raw,
                self.transport.clone(),
                self.events.clone(),
                self.cfg.clone(),
                self.role,
                member,
            ))
        })
    }

    fn observe<'a>(
        &'a self,
        topics: &'a [String],
        from: ObserveFrom,
    ) -> BoxFuture<'a, Result<Observer, BusError>> {
        Box::pin(async move {
            if topics.is_empty() {
                return Err(BusError::Config("observe: no topics".into()));
            }
            let raw = self.transport.observer(topics, &from).await?;
            Ok(Observer::new(raw, self.events.clone()))
        })
    }

    fn get_run_state<'a>(
        &'a self,
        correlation_id: Uuid,
    ) -> BoxFuture<'a, Result<Option<RunState>, BusError>> {
        Box::pin(async move {
            let raw = self.transport.get_run_record(correlation_id).await?;
            raw.map(|r| RunState::from_json(&r, self.record_origin(correlation_id)))
                .transpose()
        })
    }

    fn put_run_state<'a>(&'a self, state: &'a RunState) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let value = self.encode_state(state)?;
            self.transport
                .put_run_record(state.correlation_id, value)
                .await
        })
    }

    fn claim_run<'a>(
        &'a self,
        correlation_id: Uuid,
        owner: &'a str,
        workflow: Option<crate::events::WorkflowRef>,
        stale_after: Duration,
    ) -> BoxFuture<'a, Result<Claim, BusError>> {
        Box::pin(async move {
            for _ in 0..SWAP_TRIES {
                let (raw, prev) = self.read_record(correlation_id).await?;
                let attempt = match &prev {
                    Some(st) if st.status != RunStatus::InProgress => {
                        return Ok(Claim::Finished(st.clone()));
                    }
                    Some(st) if st.owner.as_deref() != Some(owner) && fresh(st, stale_after) => {
                        return Ok(Claim::Held(st.clone()));
                    }
                    Some(st) => st.attempt + 1,
                    None => 1,
                };
                let mine = RunState {
                    correlation_id,
                    status: RunStatus::InProgress,
                    terminal: None,
                    attempt,
                    owner: Some(owner.to_string()),
                    updated_at: Envelope::now_timestamp(),
                    // A takeover keeps the version the run started on.
                    workflow: prev
                        .as_ref()
                        .and_then(|p| p.workflow.clone())
                        .or_else(|| workflow.clone()),
                };
                let value = self.encode_state(&mine)?;
                if self
                    .transport
                    .swap_run_record(correlation_id, raw, value)
                    .await?
                {
                    return Ok(Claim::Won(mine));
                }
            }
            Err(self.swap_exhausted(correlation_id))
        })
    }

    fn update_run<'a>(&'a self, state: &'a RunState) -> BoxFuture<'a, Result<bool, BusError>> {
        Box::pin(async move {
            let value = self.encode_state(state)?;
            for _ in 0..SWAP_TRIES {
                let (raw, prev) = self.read_record(state.correlation_id).await?;
                if !update_allowed(prev.as_ref(), state) {
                    return Ok(false);
                }
                if self
                    .transport
                    .swap_run_record(state.correlation_id, raw, value.clone())
                    .await?
                {
                    return Ok(true);
                }
            }
            Err(self.swap_exhausted(state.correlation_id))
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            // The same group id `subscribe` uses.
            let group = format!("{}{group}", self.cfg.topic_prefix);
            self.transport.lag(&group, topics).await
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<Health, BusError>> {
        Box::pin(async move {
            let start = std::time::Instant::now();
            self.transport.health().await?;
            Ok(Health {
                backend: self.transport.name(),
                target: self.transport.target(),
                round_trip: start.elapsed(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_as_text() {
        for o in [
            Offset::Index(42),
            Offset::Stream {
                ms: 1700000000000,
                seq: 3,
            },
        ] {
            assert_eq!(o.to_string().parse::<Offset>().unwrap(), o);
        }
        assert!("x-1".parse::<Offset>().is_err());
        assert!("".parse::<Offset>().is_err());
    }
}
