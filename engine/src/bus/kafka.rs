//! The Kafka back end (rdkafka / bundled librdkafka). Producer: `acks=all`, idempotence on for
//! [`Role::Service`] and off for [`Role::Cli`], CloudEvents 1.0 binary-mode headers. Topics are
//! created through the admin API with `bus.partitions` when missing. Group members and
//! observers each own a `BaseConsumer` on a dedicated thread that polls continuously (so group
//! heartbeats, rebalances and fetches never depend on the caller) and hands messages over a
//! channel; offsets are committed manually after acks (the lowest unacked offset per
//! partition), synchronously on close and before a partition is revoked. Closing happens on that
//! thread: the async side never blocks on librdkafka's destroy (stack.md: rust-rdkafka #509;
//! no `TopicPartitionList` outlives a call). Run state lives in the compacted topic `…runs`,
//! read back through a catching-up view.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::topic_partition_list::{Offset as KOffset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::{
    BoxFuture, BusConfig, BusError, ObserveFrom, Offset, Position, RawGroup, RawMessage,
    RawObserver, Role, RunState, Transport, validate,
};
use crate::events::{Component, Envelope};

const NAME: &str = "kafka";
const POLL: Duration = Duration::from_millis(50);
/// Pause fetching when this many messages wait in the channel; resume below half.
const BACKLOG_HIGH: usize = 2048;
const COMMIT_EVERY: Duration = Duration::from_millis(100);

pub(crate) struct Kafka {
    servers: String,
    cfg: BusConfig,
    /// Replaced after a fatal error (e.g. the idempotent producer fenced after a broker
    /// restart): such a producer never sends again.
    producer: Mutex<(u64, FutureProducer<LogCtx>)>,
    producer_config: ClientConfig,
    admin: AdminClient<LogCtx>,
    created: Mutex<HashSet<String>>,
    runs: tokio::sync::Mutex<Option<RunsView>>,
}

fn unreachable(servers: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Unreachable {
        backend: NAME,
        target: servers.to_string(),
        detail: e.to_string(),
    }
}

/// librdkafka configuration: our defaults, then every `kafka.<property>` on top.
fn base_config(cfg: &BusConfig, servers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", servers);
    c.set("socket.timeout.ms", cfg.timeout_ms.max(10).to_string());
    c.set("log_level", "3");
    for (k, v) in &cfg.kafka {
        c.set(k, v);
    }
    c
}

fn consumer_config(cfg: &BusConfig, servers: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", servers);
    c.set("group.id", group);
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    // A new group starts at the oldest retained message (nothing published before the first
    // orchestrator started is lost).
    c.set("auto.offset.reset", "earliest");
    c.set("fetch.wait.max.ms", "10");
    c.set("socket.timeout.ms", cfg.timeout_ms.max(10).to_string());
    c.set("log_level", "3");
    for (k, v) in &cfg.kafka {
        // Producer-only properties would make librdkafka warn on consumers.
        if matches!(
            k.as_str(),
            "acks" | "enable.idempotence" | "linger.ms" | "message.timeout.ms"
        ) {
            continue;
        }
        c.set(k, v);
    }
    c
}

fn kerr(servers: &str, op: &str, e: KafkaError) -> BusError {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut,
        ) => unreachable(servers, format!("{op}: {e}")),
        _ => BusError::broker(NAME, op, e),
    }
}

impl Kafka {
    pub(crate) async fn connect(
        cfg: &BusConfig,
        role: Role,
        servers: &str,
    ) -> Result<Self, BusError> {
        let mut pc = base_config(cfg, servers);
        pc.set("acks", "all");
        pc.set("linger.ms", "0");
        pc.set("message.timeout.ms", cfg.timeout_ms.max(10).to_string());
        pc.set(
            "message.max.bytes",
            (cfg.max_message_bytes + 64 * 1024).to_string(),
        );
        pc.set(
            "enable.idempotence",
            match role {
                Role::Service => "true",
                Role::Cli => "false",
            },
        );
        // kafka.* wins, also over the role default.
        for (k, v) in &cfg.kafka {
            pc.set(k, v);
        }
        let producer: FutureProducer<LogCtx> = pc
            .create_with_context(LogCtx)
            .map_err(|e| BusError::Config(format!("kafka producer settings: {e}")))?;
        let admin: AdminClient<LogCtx> = base_config(cfg, servers)
            .create_with_context(LogCtx)
            .map_err(|e| BusError::Config(format!("kafka admin settings: {e}")))?;
        let bus = Kafka {
            servers: servers.to_string(),
            cfg: cfg.clone(),
            producer: Mutex::new((0, producer)),
            producer_config: pc,
            admin,
            created: Mutex::new(HashSet::new()),
            runs: tokio::sync::Mutex::new(None),
        };
        bus.probe().await?;
        Ok(bus)
    }

    fn producer(&self) -> FutureProducer<LogCtx> {
        self.producer_gen().1
    }

    /// The producer and its generation (bumped whenever it is replaced).
    fn producer_gen(&self) -> (u64, FutureProducer<LogCtx>) {
        self.producer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// After a fatal producer error (ProducerFenced, an idempotence sequence lost when the
    /// broker restarted without its producer state, …) librdkafka refuses every further send on
    /// that producer: build a new one, so that the caller's retry (a nack, the next publish)
    /// goes through. Non-fatal errors keep the producer.
    fn renew_if_fatal(&self, (generation, failed): &(u64, FutureProducer<LogCtx>), e: &KafkaError) {
        let fatal = failed.client().fatal_error().is_some()
            || e.rdkafka_error_code() == Some(RDKafkaErrorCode::ProducerFenced)
            || e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal);
        if !fatal {
            return;
        }
        match self
            .producer_config
            .create_with_context::<LogCtx, FutureProducer<LogCtx>>(LogCtx)
        {
            Ok(fresh) => {
                let mut slot = self.producer.lock().unwrap_or_else(|p| p.into_inner());
                // Only the producer that failed is replaced (a concurrent send may have done so).
                if slot.0 == *generation {
                    tracing::warn!(error = %e, "kafka bus: producer failed fatally; replaced by a new one");
                    *slot = (generation + 1, fresh);
                }
            }
            Err(err) => tracing::warn!(error = %err, "kafka bus: cannot rebuild the producer"),
        }
    }

    async fn probe(&self) -> Result<(), BusError> {
        let client = self.producer();
        let timeout = self.cfg.timeout();
        tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(None, timeout)
                .map(|m| m.brokers().len())
        })
        .await
        .map_err(|e| unreachable(&self.servers, e))?
        .map_err(|e| unreachable(&self.servers, format!("metadata: {e}")))?;
        Ok(())
    }

    /// The run-state view, read up to the high watermark of every partition as of now
    /// (read-your-writes).
    async fn caught_up<'v>(
        &self,
        view: &'v mut Option<RunsView>,
    ) -> Result<&'v mut RunsView, BusError> {
        let topic = validate::runs_topic(&self.cfg.topic_prefix);
        if view.is_none() {
            let reader = self
                .reader(std::slice::from_ref(&topic), &ObserveFrom::Beginning)
                .await?;
            *view = Some(RunsView {
                reader,
                states: HashMap::new(),
                next: BTreeMap::new(),
            });
        }
        let Some(v) = view.as_mut() else {
            return Err(BusError::broker(NAME, "run state", "view missing"));
        };
        // All partitions' high watermarks at once: one round trip each, and on slow broker
        // storage these dominate every claim and run-state update.
        let partitions = self.partitions(&topic).await?;
        let highs: BTreeMap<i32, i64> =
            futures_util::future::try_join_all(partitions.into_iter().map(|p| {
                let topic = &topic;
                async move { Ok::<_, BusError>((p, self.watermarks(topic, p).await?.1)) }
            }))
            .await?
            .into_iter()
            .collect();
        let deadline = Instant::now() + self.cfg.timeout();
        while highs
            .iter()
            .any(|(p, h)| v.next.get(p).copied().unwrap_or(0) < *h)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BusError::Timeout {
                    backend: NAME,
                    operation: format!("reading {topic}"),
                    millis: self.cfg.timeout().as_millis(),
                });
            }
            if let Some(m) = v.reader.next(left.min(Duration::from_millis(200))).await? {
                v.apply(m);
            }
        }
        Ok(v)
    }

    /// Create missing topics with the declared partitions (the runs topic compacted).
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        let missing: Vec<String> = {
            let created = self
                .created
                .lock()
                .map_err(|_| BusError::broker(NAME, "topics", "lock poisoned"))?;
            topics
                .iter()
                .filter(|t| !created.contains(*t))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let runs = validate::runs_topic(&self.cfg.topic_prefix);
        let retention = self
            .cfg
            .retention
            .max_age_secs
            .map(|s| (s.saturating_mul(1000)).to_string())
            .unwrap_or_else(|| "-1".into());
        let new: Vec<NewTopic<'_>> = missing
            .iter()
            .map(|t| {
                let nt = NewTopic::new(
                    t,
                    self.cfg.partitions.max(1),
                    TopicReplication::Fixed(self.cfg.replication_factor),
                );
                if *t == runs {
                    nt.set("cleanup.policy", "compact")
                } else {
                    nt.set("retention.ms", &retention)
                }
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(self.cfg.timeout()));
        let results = self
            .admin
            .create_topics(new.iter(), &opts)
            .await
            .map_err(|e| kerr(&self.servers, "create topics", e))?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    return Err(BusError::broker(NAME, format!("create topic {t}"), code));
                }
            }
        }
        // Wait until the metadata shows every partition, so producers and assignments see them.
        let client = self.producer();
        let (ts, timeout) = (missing.clone(), self.cfg.timeout());
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let deadline = Instant::now() + timeout;
            for t in &ts {
                loop {
                    let ok = client
                        .client()
                        .fetch_metadata(Some(t), Duration::from_secs(2))
                        .map(|m| {
                            m.topics().first().is_some_and(|mt| {
                                mt.error().is_none() && !mt.partitions().is_empty()
                            })
                        })
                        .unwrap_or(false);
                    if ok {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("topic {t} not visible in metadata"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| BusError::broker(NAME, "create topics", e))?
        .map_err(|e| BusError::broker(NAME, "create topics", e))?;
        if let Ok(mut c) = self.created.lock() {
            c.extend(missing);
        }
        Ok(())
    }

    /// Partitions of each topic, in one blocking task.
    async fn all_partitions(&self, topics: &[String]) -> Result<Vec<Vec<i32>>, BusError> {
        let client = self.producer();
        let (ts, timeout, servers) = (topics.to_vec(), self.cfg.timeout(), self.servers.clone());
        tokio::task::spawn_blocking(move || {
            ts.iter()
                .map(|t| {
                    let md = client
                        .client()
                        .fetch_metadata(Some(t), timeout)
                        .map_err(|e| kerr(&servers, "metadata", e))?;
                    Ok(md
                        .topics()
                        .first()
                        .map(|mt| mt.partitions().iter().map(|p| p.id()).collect())
                        .unwrap_or_default())
                })
                .collect()
        })
        .await
        .map_err(|e| BusError::broker(NAME, "metadata", e))?
    }

    /// Partitions of a topic.
    async fn partitions(&self, topic: &str) -> Result<Vec<i32>, BusError> {
        let client = self.producer();
        let (t, timeout) = (topic.to_string(), self.cfg.timeout());
        let servers = self.servers.clone();
        tokio::task::spawn_blocking(move || {
            let md = client
                .client()
                .fetch_metadata(Some(&t), timeout)
                .map_err(|e| kerr(&servers, "metadata", e))?;
            Ok(md
                .topics()
                .first()
                .map(|mt| mt.partitions().iter().map(|p| p.id()).collect())
                .unwrap_or_default())
        })
        .await
        .map_err(|e| BusError::broker(NAME, "metadata", e))?
    }

    async fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), BusError> {
        let client = self.producer();
        let (t, timeout, servers) = (topic.to_string(), self.cfg.timeout(), self.servers.clone());
        tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_watermarks(&t, partition, timeout)
                .map_err(|e| kerr(&servers, "watermarks", e))
        })
        .await
        .map_err(|e| BusError::broker(NAME, "watermarks", e))?
    }

    /// An assigned (group-less) reader of `topics` from the given start offsets.
    async fn reader(
        &self,
        topics: &[String],
        from: &ObserveFrom,
    ) -> Result<KafkaObserver, BusError> {
        self.ensure_topics(topics).await?;
        let mut starts: Vec<(String, i32, KOffset)> = Vec::new();
        let all = self.all_partitions(topics).await?;
        for (t, parts) in topics.iter().zip(all) {
            for p in parts {
                let off = match from {
                    ObserveFrom::Beginning => KOffset::Beginning,
                    // Resolved to concrete offsets by the reader thread before observe() returns
                    // (one ListOffsets round trip), so everything published after is seen.
                    ObserveFrom::End => KOffset::End,
                    ObserveFrom::Positions(ps) => {
                        match ps.iter().find(|x| &x.topic == t && x.partition == p) {
                            Some(Position {
                                offset: Offset::Index(i),
                                ..
                            }) => KOffset::Offset(*i),
                            Some(other) => {
                                return Err(BusError::Config(format!(
                                    "offset {} is not a Kafka offset",
                                    other.offset
                                )));
                            }
                            None => KOffset::Beginning,
                        }
                    }
                };
                starts.push((t.clone(), p, off));
            }
        }
        let group = format!("onex-observer-{}", Uuid::now_v7().simple());
        let config = consumer_config(&self.cfg, &self.servers, &group);
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let bl = backlog.clone();
        let timeout = self.cfg.timeout();
        std::thread::Builder::new()
            .name("onex-kafka-observer".into())
            .spawn(move || observer_thread(config, starts, timeout, tx, stop_rx, started_tx, bl))
            .map_err(|e| BusError::broker(NAME, "observer thread", e))?;
        started_rx
            .await
            .map_err(|_| BusError::broker(NAME, "observe", "reader thread ended"))??;
        Ok(KafkaObserver {
            rx,
            _stop: stop_tx,
            backlog,
        })
    }
}

fn ce_source(env: &Envelope) -> String {
    let component = match env.source.component {
        Component::Cli => "cli",
        Component::Orchestrator => "orchestrator",
    };
    format!("/onex/{component}/{}", env.source.instance_id)
}

impl Transport for Kafka {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target(&self) -> String {
        self.servers.clone()
    }

    fn send<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
        envelope: Option<&'a Envelope>,
    ) -> BoxFuture<'a, Result<Position, BusError>> {
        Box::pin(async move {
            self.ensure_topics(&[topic.to_string()]).await?;
            let mut headers = OwnedHeaders::new();
            if let Some(env) = envelope {
                let (id, seq, source) = (
                    env.event_id.to_string(),
                    env.seq.to_string(),
                    ce_source(env),
                );
                for (k, v) in [
                    ("ce_id", id.as_str()),
                    ("ce_type", env.event_type.as_str()),
                    ("ce_source", source.as_str()),
                    ("ce_specversion", "1.0"),
                    ("ce_time", env.timestamp.as_str()),
                    ("content-type", "application/json"),
                    ("correlation_id", key),
                    ("seq", seq.as_str()),
                    ("traceparent", env.trace.traceparent.as_str()),
                ] {
                    headers = headers.insert(Header {
                        key: k,
                        value: Some(v),
                    });
                }
                if let Some(ts) = &env.trace.tracestate {
                    headers = headers.insert(Header {
                        key: "tracestate",
                        value: Some(ts.as_str()),
                    });
                }
            }
            let record = FutureRecord::to(topic)
                .key(key)
                .payload(value)
                .headers(headers);
            // librdkafka's own message timeout fires late (its timer scans once a second, and
            // an unreachable broker adds retries); the caller gets an answer within
            // bus.timeout_ms. A message timed out here may still be delivered later: the caller
            // sees a failure and may publish again (at-least-once, consumers de-duplicate).
            let limit = self.cfg.timeout();
            let producer = self.producer_gen();
            match tokio::time::timeout(limit, producer.1.send(record, limit)).await {
                Ok(Ok(d)) => Ok(Position {
                    topic: topic.to_string(),
                    partition: d.partition,
                    offset: Offset::Index(d.offset),
                }),
                Ok(Err((e, _))) => {
                    self.renew_if_fatal(&producer, &e);
                    Err(kerr(&self.servers, &format!("publish to {topic}"), e))
                }
                Err(_) => Err(BusError::Timeout {
                    backend: NAME,
                    operation: format!("publish to {topic} on {}", self.servers),
                    millis: limit.as_millis(),
                }),
            }
        })
    }

    fn group<'a>(
        &'a self,
        group: &'a str,
        member: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<Box<dyn RawGroup>, BusError>> {
        Box::pin(async move {
            self.ensure_topics(topics).await?;
            let mut config = consumer_config(&self.cfg, &self.servers, group);
            config.set("client.id", member);
            let (tx, rx) = mpsc::unbounded_channel();
            let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<Cmd>();
            let (assigned_tx, assigned_rx) = watch::channel(0usize);
            let (started_tx, started_rx) = oneshot::channel();
            let backlog = Arc::new(AtomicUsize::new(0));
            let bl = backlog.clone();
            let ts = topics.to_vec();
            let thread = std::thread::Builder::new()
                .name("onex-kafka-group".into())
                .spawn(move || group_thread(config, ts, tx, cmd_rx, assigned_tx, started_tx, bl))
                .map_err(|e| BusError::broker(NAME, "group thread", e))?;
            started_rx
                .await
                .map_err(|_| BusError::broker(NAME, "subscribe", "group thread ended"))??;
            Ok(Box::new(KafkaGroup {
                rx,
                cmd: cmd_tx,
                assigned: assigned_rx,
                backlog,
                timeout: self.cfg.timeout(),
                _thread: thread,
            }) as Box<dyn RawGroup>)
        })
    }

    fn observer<'a>(
        &'a self,
        topics: &'a [String],
        from: &'a ObserveFrom,
    ) -> BoxFuture<'a, Result<Box<dyn RawObserver>, BusError>> {
        Box::pin(
            async move { Ok(Box::new(self.reader(topics, from).await?) as Box<dyn RawObserver>) },
        )
    }

    fn get_run_record<'a>(&'a self, id: Uuid) -> BoxFuture<'a, Result<Option<Vec<u8>>, BusError>> {
        Box::pin(async move {
            let mut view = self.runs.lock().await;
            let v = self.caught_up(&mut view).await?;
            Ok(v.states.get(&id).cloned())
        })
    }

    fn put_run_record<'a>(
        &'a self,
        id: Uuid,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let topic = validate::runs_topic(&self.cfg.topic_prefix);
            self.send(&topic, &id.to_string(), &value, None)
                .await
                .map(|_| ())
        })
    }

    fn swap_run_record<'a>(
        &'a self,
        id: Uuid,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, BusError>> {
        Box::pin(async move {
            // Atomic among the writers of this process (the view's lock is held from the
            // compare to the set). Across processes, one key's triggers reach one group member
            // (the owner of its partition), so one run's record has one writer at a time
            // (docs/bus.md "Run state").
            let mut view = self.runs.lock().await;
            let v = self.caught_up(&mut view).await?;
            if v.states.get(&id) != expected.as_ref() {
                return Ok(false);
            }
            let topic = validate::runs_topic(&self.cfg.topic_prefix);
            self.send(&topic, &id.to_string(), &value, None).await?;
            v.states.insert(id, value);
            Ok(true)
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let mut tpl = TopicPartitionList::new();
            for t in topics {
                for p in self.partitions(t).await? {
                    tpl.add_partition(t, p);
                }
            }
            let config = consumer_config(&self.cfg, &self.servers, group);
            let (timeout, servers) = (self.cfg.timeout(), self.servers.clone());
            let work = tokio::task::spawn_blocking(move || -> Result<u64, BusError> {
                // A group-less look at the group's committed offsets: this consumer never
                // subscribes, so it does not join (or disturb) the group.
                let consumer: BaseConsumer<LogCtx> = config
                    .create_with_context(LogCtx)
                    .map_err(|e| BusError::Config(format!("kafka consumer settings: {e}")))?;
                let committed = consumer
                    .committed_offsets(tpl, timeout)
                    .map_err(|e| kerr(&servers, "committed offsets", e))?;
                let mut lag = 0u64;
                for e in committed.elements() {
                    let (low, high) = consumer
                        .fetch_watermarks(e.topic(), e.partition(), timeout)
                        .map_err(|err| kerr(&servers, "watermarks", err))?;
                    // No commit yet: the group would start at the oldest retained message.
                    let from = match e.offset() {
                        KOffset::Offset(o) => o.max(low),
                        _ => low,
                    };
                    lag += u64::try_from(high - from).unwrap_or(0);
                }
                // The offsets list goes before its consumer (rdkafka hangs otherwise, #509).
                drop(committed);
                drop(consumer);
                Ok(lag)
            });
            match tokio::time::timeout(self.cfg.timeout() * 2, work).await {
                Ok(joined) => joined.map_err(|e| BusError::broker(NAME, "lag", e))?,
                Err(_) => Err(BusError::Timeout {
                    backend: NAME,
                    operation: "consumer lag".into(),
                    millis: (self.cfg.timeout() * 2).as_millis(),
                }),
            }
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(self.probe())
    }
}

/// The run-state topic folded into a map (last write per correlation_id wins), as bytes: a
/// record that does not decode is the caller's to quarantine.
struct RunsView {
    reader: KafkaObserver,
    states: HashMap<Uuid, Vec<u8>>,
    /// Next offset to read per partition.
    next: BTreeMap<i32, i64>,
}

impl RunsView {
    fn apply(&mut self, m: RawMessage) {
        if let Offset::Index(o) = m.position.offset {
            self.next.insert(m.position.partition, o + 1);
        }
        // The key is the correlation_id; without a usable key the record says whose it is.
        let id = m
            .key
            .as_deref()
            .and_then(|k| Uuid::parse_str(k).ok())
            .or_else(|| {
                RunState::from_json(&m.value, &m.position)
                    .ok()
                    .map(|s| s.correlation_id)
            });
        match id {
            Some(id) => {
                self.states.insert(id, m.value);
            }
            None => {
                tracing::warn!(position = %m.position, "kafka bus: run-state record with neither a correlation id key nor a readable body skipped")
            }
        }
    }
}

fn to_raw(m: &rdkafka::message::BorrowedMessage<'_>) -> RawMessage {
    RawMessage {
        position: Position {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: Offset::Index(m.offset()),
        },
        key: m
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .map(str::to_string),
        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        deliveries: 0,
    }
}

/// Delivered-but-unacked offsets per partition; what may be committed.
#[derive(Default)]
struct Tracker {
    parts: HashMap<(String, i32), Part>,
}

#[derive(Default)]
struct Part {
    outstanding: BTreeSet<i64>,
    /// Highest delivered offset + 1.
    high: i64,
    committed: i64,
}

impl Tracker {
    fn delivered(&mut self, t: &str, p: i32, o: i64) {
        let part = self.parts.entry((t.to_string(), p)).or_default();
        part.outstanding.insert(o);
        part.high = part.high.max(o + 1);
    }

    fn acked(&mut self, t: &str, p: i32, o: i64) {
        if let Some(part) = self.parts.get_mut(&(t.to_string(), p)) {
            part.outstanding.remove(&o);
        }
    }

    /// Offsets to commit (next offset to read per partition) that moved since the last commit.
    fn committable(&mut self, only: Option<&HashSet<(String, i32)>>) -> Vec<(String, i32, i64)> {
        let mut out = Vec::new();
        for (k, part) in self.parts.iter_mut() {
            if only.is_some_and(|o| !o.contains(k)) {
                continue;
            }
            let next = part.outstanding.first().copied().unwrap_or(part.high);
            if next > part.committed {
                part.committed = next;
                out.push((k.0.clone(), k.1, next));
            }
        }
        out
    }

    fn forget(&mut self, gone: &HashSet<(String, i32)>) {
        self.parts.retain(|k, _| !gone.contains(k));
    }
}

fn commit(consumer: &BaseConsumer<GroupCtx>, offsets: &[(String, i32, i64)], mode: CommitMode) {
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in offsets {
        if tpl
            .add_partition_offset(t, *p, KOffset::Offset(*o))
            .is_err()
        {
            return;
        }
    }
    if let Err(e) = consumer.commit(&tpl, mode) {
        tracing::warn!(error = %e, "kafka bus: commit failed (messages may be redelivered)");
    }
}

struct GroupCtx {
    tracker: Arc<Mutex<Tracker>>,
    assigned: watch::Sender<usize>,
}

impl ClientContext for GroupCtx {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        LogCtx.log(level, fac, message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        LogCtx.error(error, reason)
    }
}

/// librdkafka's own log lines and error callbacks go to `tracing` at debug level: they repeat
/// (one per retry and broker thread) what the typed [`BusError`] of the failing call says once,
/// and they must not reach a user's terminal raw (`RUST_LOG=rdkafka=debug` shows them).
#[derive(Clone, Copy, Default)]
pub(crate) struct LogCtx;

impl ClientContext for LogCtx {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(target: "rdkafka", ?level, facility = fac, "{message}");
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "rdkafka", "{error}: {reason}");
    }
}

impl ConsumerContext for LogCtx {}

impl ConsumerContext for GroupCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let gone: HashSet<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            // Commit what was acked before the partitions move, then forget them: the new owner
            // redelivers whatever is still unacked.
            if let Ok(mut t) = self.tracker.lock() {
                let offs = t.committable(Some(&gone));
                commit(consumer, &offs, CommitMode::Sync);
                t.forget(&gone);
            }
            let _ = self.assigned.send(0);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let _ = self.assigned.send(tpl.count());
        }
    }
}

enum Cmd {
    Ack(String, i32, i64),
    Close(oneshot::Sender<()>),
}

fn group_thread(
    config: ClientConfig,
    topics: Vec<String>,
    tx: mpsc::UnboundedSender<RawMessage>,
    cmds: std::sync::mpsc::Receiver<Cmd>,
    assigned: watch::Sender<usize>,
    started: oneshot::Sender<Result<(), BusError>>,
    backlog: Arc<AtomicUsize>,
) {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let ctx = GroupCtx {
        tracker: tracker.clone(),
        assigned,
    };
    let consumer: BaseConsumer<GroupCtx> = match config.create_with_context(ctx) {
        Ok(c) => c,
        Err(e) => {
            let _ = started.send(Err(BusError::Config(format!(
                "kafka consumer settings: {e}"
            ))));
            return;
        }
    };
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&refs) {
        let _ = started.send(Err(BusError::broker(NAME, "subscribe", e)));
        return;
    }
    let _ = started.send(Ok(()));
    let mut paused = false;
    let mut last_commit = Instant::now();
    let mut closing: Option<oneshot::Sender<()>> = None;
    let mut acked = false;
    'run: loop {
        loop {
            match cmds.try_recv() {
                Ok(Cmd::Ack(t, p, o)) => {
                    if let Ok(mut tr) = tracker.lock() {
                        tr.acked(&t, p, o);
                    }
                    acked = true;
                }
                Ok(Cmd::Close(done)) => {
                    closing = Some(done);
                    break 'run;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                // The consumer was dropped (the member died): leave without committing more.
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break 'run,
            }
        }
        // Commits are batched (every 100 ms while acks come in): a crash redelivers at most
        // that much acked work, which at-least-once allows.
        if (acked && last_commit.elapsed() >= COMMIT_EVERY)
            || last_commit.elapsed() > Duration::from_secs(1)
        {
            let offs = tracker
                .lock()
                .map(|mut t| t.committable(None))
                .unwrap_or_default();
            commit(&consumer, &offs, CommitMode::Async);
            last_commit = Instant::now();
            acked = false;
        }
        let queued = backlog.load(Ordering::Relaxed);
        if !paused && queued >= BACKLOG_HIGH {
            if let Ok(a) = consumer.assignment() {
                paused = consumer.pause(&a).is_ok();
            }
        } else if paused
            && queued < BACKLOG_HIGH / 2
            && let Ok(a) = consumer.assignment()
        {
            paused = consumer.resume(&a).is_err();
        }
        match consumer.poll(POLL) {
            Some(Ok(m)) => {
                let raw = to_raw(&m);
                if let Ok(mut t) = tracker.lock() {
                    t.delivered(m.topic(), m.partition(), m.offset());
                }
                backlog.fetch_add(1, Ordering::Relaxed);
                if tx.send(raw).is_err() {
                    break 'run;
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka bus: consumer error"),
            None => {}
        }
    }
    if closing.is_some() {
        // Orderly close: commit everything acked before leaving the group.
        let offs = tracker
            .lock()
            .map(|mut t| t.committable(None))
            .unwrap_or_default();
        commit(&consumer, &offs, CommitMode::Sync);
    }
    drop(consumer);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

struct KafkaGroup {
    rx: mpsc::UnboundedReceiver<RawMessage>,
    cmd: std::sync::mpsc::Sender<Cmd>,
    assigned: watch::Receiver<usize>,
    backlog: Arc<AtomicUsize>,
    timeout: Duration,
    _thread: std::thread::JoinHandle<()>,
}

impl RawGroup for KafkaGroup {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            match tokio::time::timeout(wait, self.rx.recv()).await {
                Ok(Some(m)) => {
                    self.backlog.fetch_sub(1, Ordering::Relaxed);
                    Ok(Some(m))
                }
                Ok(None) => Err(BusError::Closed("kafka group member".into())),
                Err(_) => Ok(None),
            }
        })
    }

    fn ack<'a>(&'a mut self, position: &'a Position) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let Offset::Index(o) = position.offset else {
                return Err(BusError::UnknownDelivery(position.to_string()));
            };
            self.cmd
                .send(Cmd::Ack(position.topic.clone(), position.partition, o))
                .map_err(|_| BusError::Closed("kafka group member".into()))
        })
    }

    fn ready(&mut self, wait: Duration) -> BoxFuture<'_, Result<bool, BusError>> {
        Box::pin(async move {
            let r = tokio::time::timeout(wait, self.assigned.wait_for(|n| *n > 0)).await;
            Ok(matches!(r, Ok(Ok(_))))
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        Box::pin(async move {
            let (done_tx, done_rx) = oneshot::channel();
            if self.cmd.send(Cmd::Close(done_tx)).is_err() {
                return Ok(());
            }
            let timeout = self.timeout;
            match tokio::time::timeout(timeout, done_rx).await {
                Ok(_) => Ok(()),
                Err(_) => Err(BusError::Timeout {
                    backend: NAME,
                    operation: "leaving the group".into(),
                    millis: timeout.as_millis(),
                }),
            }
        })
    }
}

fn observer_thread(
    config: ClientConfig,
    starts: Vec<(String, i32, KOffset)>,
    timeout: Duration,
    tx: mpsc::UnboundedSender<RawMessage>,
    stop: std::sync::mpsc::Receiver<()>,
    started: oneshot::Sender<Result<(), BusError>>,
    backlog: Arc<AtomicUsize>,
) {
    let consumer: BaseConsumer<LogCtx> = match config.create_with_context(LogCtx) {
        Ok(c) => c,
        Err(e) => {
            let _ = started.send(Err(BusError::Config(format!(
                "kafka consumer settings: {e}"
            ))));
            return;
        }
    };
    let mut starts = starts;
    // `End` becomes the current end offset (ListOffsets with timestamp -1 = latest), so the
    // reader starts exactly where the log ends when observe() returns.
    if starts.iter().any(|s| s.2 == KOffset::End) {
        let mut ask = TopicPartitionList::new();
        for (t, p, o) in &starts {
            if *o == KOffset::End && ask.add_partition_offset(t, *p, KOffset::End).is_err() {
                let _ = started.send(Err(BusError::broker(NAME, "observe", "bad partition")));
                return;
            }
        }
        let ends = consumer.offsets_for_times(ask, timeout);
        match ends {
            Ok(ends) => {
                for (t, p, o) in starts.iter_mut() {
                    if *o != KOffset::End {
                        continue;
                    }
                    match ends.find_partition(t, *p).map(|e| e.offset()) {
                        Some(KOffset::Offset(x)) => *o = KOffset::Offset(x),
                        other => {
                            let _ = started.send(Err(BusError::broker(
                                NAME,
                                "observe",
                                format!("no end offset for {t}[{p}]: {other:?}"),
                            )));
                            return;
                        }
                    }
                }
                drop(ends);
            }
            Err(e) => {
                let _ = started.send(Err(BusError::broker(NAME, "observe: end offsets", e)));
                return;
            }
        }
    }
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in &starts {
        if let Err(e) = tpl.add_partition_offset(t, *p, *o) {
            let _ = started.send(Err(BusError::broker(NAME, "observe", e)));
            return;
        }
    }
    let assigned = consumer.assign(&tpl);
    drop(tpl);
    if let Err(e) = assigned {
        let _ = started.send(Err(BusError::broker(NAME, "observe", e)));
        return;
    }
    let _ = started.send(Ok(()));
    loop {
        if !matches!(stop.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
            break;
        }
        if backlog.load(Ordering::Relaxed) >= BACKLOG_HIGH {
            // The reader is behind: wait without fetching more (assignment stays).
            std::thread::sleep(POLL);
            continue;
        }
        match consumer.poll(POLL) {
            Some(Ok(m)) => {
                backlog.fetch_add(1, Ordering::Relaxed);
                if tx.send(to_raw(&m)).is_err() {
                    break;
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka bus: observer error"),
            None => {}
        }
    }
    drop(consumer);
}

struct KafkaObserver {
    rx: mpsc::UnboundedReceiver<RawMessage>,
    /// Dropping it stops the reader thread.
    _stop: std::sync::mpsc::Sender<()>,
    backlog: Arc<AtomicUsize>,
}

impl RawObserver for KafkaObserver {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            match tokio::time::timeout(wait, self.rx.recv()).await {
                Ok(Some(m)) => {
                    self.backlog.fetch_sub(1, Ordering::Relaxed);
                    Ok(Some(m))
                }
                Ok(None) => Err(BusError::Closed("kafka observer".into())),
                Err(_) => Ok(None),
            }
        })
    }
}
