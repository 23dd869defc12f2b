//! The Redis Streams back end: one stream per topic, entries with fields `key` and `event`,
//! `XADD … MAXLEN ~` retention, consumer groups with `XREADGROUP`/`XACK`, and `XAUTOCLAIM` of
//! entries whose holder stopped renewing them (it died) for `bus.lease_ms`. A live member renews
//! its entries with `XCLAIM … JUSTID` in the background. Run state lives in a hash named like
//! the `runs` topic. Redis groups have no per-key affinity (see the trait docs).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{RedisError, Value};
use uuid::Uuid;

use super::{
    BoxFuture, BusConfig, BusError, ObserveFrom, Offset, Position, RawGroup, RawMessage,
    RawObserver, Transport, validate,
};
use crate::events::Envelope;

const NAME: &str = "redis";
const READ_BATCH: usize = 16;
const OBSERVE_BATCH: usize = 256;

pub(crate) struct RedisBus {
    client: redis::Client,
    conn: ConnectionManager,
    cfg: BusConfig,
    url: String,
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Unreachable {
        backend: NAME,
        target: url.to_string(),
        detail: e.to_string(),
    }
}

fn map_err(url: &str, op: &str, e: RedisError) -> BusError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        unreachable(url, format!("{op}: {e}"))
    } else {
        BusError::broker(NAME, op, e)
    }
}

fn transient(e: &BusError) -> bool {
    matches!(e, BusError::Unreachable { .. })
}

fn parse_id(id: &str) -> Option<Offset> {
    let (ms, seq) = id.split_once('-')?;
    Some(Offset::Stream {
        ms: ms.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}

fn to_message(topic: &str, entry: &StreamId, deliveries: u32) -> RawMessage {
    let field = |name: &str| -> Option<Vec<u8>> {
        match entry.map.get(name) {
            Some(Value::BulkString(b)) => Some(b.clone()),
            Some(Value::SimpleString(s)) => Some(s.clone().into_bytes()),
            _ => None,
        }
    };
    RawMessage {
        position: Position {
            topic: topic.to_string(),
            partition: 0,
            // Stream ids from the server always parse; a foreign format would be a server bug,
            // and the message still reaches the dead-letter path through its value.
            offset: parse_id(&entry.id).unwrap_or(Offset::Stream { ms: 0, seq: 0 }),
        },
        key: field("key").and_then(|k| String::from_utf8(k).ok()),
        // An entry without `event` is not ours: an empty value dead-letters as undecodable.
        value: field("event").unwrap_or_default(),
        deliveries,
    }
}

/// Compare-and-set of one field of the runs hash (atomic: Redis runs a script alone).
static SWAP: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local cur = redis.call('HGET', KEYS[1], ARGV[1])
         if cur == false then cur = '' end
         if cur == ARGV[2] then
           redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
           return 1
         end
         return 0",
    )
});

impl RedisBus {
    /// The runs key holds something other than a hash (written by another program, or by
    /// hand): every run-state command would fail with WRONGTYPE. Rename it aside, so that it
    /// can be inspected and the orchestrators keep going with a fresh hash.
    async fn quarantine_runs_key(&self, key: &str) -> Result<(), BusError> {
        let aside = format!(
            "{key}.quarantined.{}",
            jiff::Timestamp::now().as_millisecond()
        );
        let mut conn = self.conn.clone();
        let r: Result<Value, RedisError> = redis::cmd("RENAME")
            .arg(key)
            .arg(&aside)
            .query_async(&mut conn)
            .await;
        match r {
            Ok(_) => {
                tracing::error!(key, quarantined_as = %aside, "redis bus: the run-state key is not a hash; renamed aside");
                Ok(())
            }
            // Another orchestrator renamed it first.
            Err(e) if e.code() == Some("ERR") && e.to_string().contains("no such key") => Ok(()),
            Err(e) => Err(map_err(
                &self.url,
                "RENAME (quarantine of the run-state key)",
                e,
            )),
        }
    }
    pub(crate) async fn connect(cfg: &BusConfig, url: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url)
            .map_err(|e| BusError::Config(format!("bus.url {url}: {e}")))?;
        let conn = manager(&client, cfg, Some(cfg.timeout()))
            .await
            .map_err(|e| unreachable(url, e))?;
        let bus = RedisBus {
            client,
            conn,
            cfg: cfg.clone(),
            url: url.to_string(),
        };
        bus.health().await?;
        Ok(bus)
    }
}

async fn manager(
    client: &redis::Client,
    cfg: &BusConfig,
    response_timeout: Option<Duration>,
) -> Result<ConnectionManager, RedisError> {
    let mc = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(cfg.timeout()))
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    tokio::time::timeout(
        cfg.timeout(),
        ConnectionManager::new_with_config(client.clone(), mc),
    )
    .await
    .map_err(|_| {
        RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    })?
}

async fn ensure_group(
    conn: &mut ConnectionManager,
    url: &str,
    topic: &str,
    group: &str,
) -> Result<(), BusError> {
    let r: Result<Value, RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(topic)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(map_err(url, "XGROUP CREATE", e)),
    }
}

impl Transport for RedisBus {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target(&self) -> String {
        self.url.clone()
    }

    fn send<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
        _envelope: Option<&'a Envelope>,
    ) -> BoxFuture<'a, Result<Position, BusError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(topic);
            if let Some(max) = self.cfg.retention.max_messages {
                cmd.arg("MAXLEN").arg("~").arg(max);
            }
            cmd.arg("*").arg("key").arg(key).arg("event").arg(value);
            let mut conn = self.conn.clone();
            let id: String = cmd
                .query_async(&mut conn)
                .await
                .map_err(|e| map_err(&self.url, "XADD", e))?;
            let offset = parse_id(&id)
                .ok_or_else(|| BusError::broker(NAME, "XADD", format!("unexpected id {id}")))?;
            Ok(Position {
                topic: topic.to_string(),
                partition: 0,
                offset,
            })
        })
    }

    fn group<'a>(
        &'a self,
        group: &'a str,
        member: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<Box<dyn RawGroup>, BusError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            for t in topics {
                ensure_group(&mut conn, &self.url, t, group).await?;
            }
            // Blocking reads get their own connection so they never hold up other commands.
            let read = manager(&self.client, &self.cfg, None)
                .await
                .map_err(|e| unreachable(&self.url, e))?;
            let held: Arc<Mutex<HashMap<String, HashSet<String>>>> = Default::default();
            let lease = self.cfg.lease();
            let renew = {
                let (mut conn, held) = (self.conn.clone(), held.clone());
                let (g, m) = (group.to_string(), member.to_string());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(lease / 3).await;
                        let snapshot: Vec<(String, Vec<String>)> = match held.lock() {
                            Ok(h) => h
                                .iter()
                                .map(|(t, ids)| (t.clone(), ids.iter().cloned().collect()))
                                .collect(),
                            Err(_) => return,
                        };
                        for (topic, ids) in snapshot {
                            if ids.is_empty() {
                                continue;
                            }
                            // Resets the idle time without counting a delivery.
                            let r: Result<Value, RedisError> = redis::cmd("XCLAIM")
                                .arg(&topic)
                                .arg(&g)
                                .arg(&m)
                                .arg(0)
                                .arg(&ids)
                                .arg("JUSTID")
                                .query_async(&mut conn)
                                .await;
                            if let Err(e) = r {
                                tracing::warn!(error = %e, topic, "redis bus: lease renewal failed");
                            }
                        }
                    }
                })
            };
            Ok(Box::new(RedisGroup {
                conn: self.conn.clone(),
                read,
                url: self.url.clone(),
                group: group.to_string(),
                member: member.to_string(),
                topics: topics.to_vec(),
                lease,
                buffer: VecDeque::new(),
                held,
                last_claim: None,
                renew,
            }) as Box<dyn RawGroup>)
        })
    }

    fn observer<'a>(
        &'a self,
        topics: &'a [String],
        from: &'a ObserveFrom,
    ) -> BoxFuture<'a, Result<Box<dyn RawObserver>, BusError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut ids = Vec::new();
            for t in topics {
                let start = match from {
                    ObserveFrom::Beginning => "0-0".to_string(),
                    ObserveFrom::End => {
                        let last: StreamRangeIds = redis::cmd("XREVRANGE")
                            .arg(t)
                            .arg("+")
                            .arg("-")
                            .arg("COUNT")
                            .arg(1)
                            .query_async::<redis::streams::StreamRangeReply>(&mut conn)
                            .await
                            .map(StreamRangeIds::from)
                            .map_err(|e| map_err(&self.url, "XREVRANGE", e))?;
                        last.0.into_iter().next().unwrap_or_else(|| "0-0".into())
                    }
                    ObserveFrom::Positions(ps) => match ps.iter().find(|p| &p.topic == t) {
                        None => "0-0".into(),
                        // XREAD is exclusive: start just before the position.
                        Some(p) => match p.offset {
                            Offset::Stream { ms, seq: 0 } if ms > 0 => {
                                format!("{}-{}", ms - 1, u64::MAX)
                            }
                            Offset::Stream { ms, seq } if seq > 0 => format!("{ms}-{}", seq - 1),
                            Offset::Stream { .. } => "0-0".into(),
                            Offset::Index(_) => {
                                return Err(BusError::Config(format!(
                                    "offset {} is not a Redis stream id (MS-SEQ)",
                                    p.offset
                                )));
                            }
                        },
                    },
                };
                ids.push(start);
            }
            let read = manager(&self.client, &self.cfg, None)
                .await
                .map_err(|e| unreachable(&self.url, e))?;
            Ok(Box::new(RedisObserver {
                read,
                url: self.url.clone(),
                topics: topics.to_vec(),
                ids,
                buffer: VecDeque::new(),
            }) as Box<dyn RawObserver>)
        })
    }

    fn get_run_record<'a>(&'a self, id: Uuid) -> BoxFuture<'a, Result<Option<Vec<u8>>, BusError>> {
        Box::pin(async move {
            let key = validate::runs_topic(&self.cfg.topic_prefix);
            let mut conn = self.conn.clone();
            let r: Result<Option<Vec<u8>>, RedisError> = redis::cmd("HGET")
                .arg(&key)
                .arg(id.to_string())
                .query_async(&mut conn)
                .await;
            match r {
                Ok(v) => Ok(v),
                Err(e) if e.code() == Some("WRONGTYPE") => {
                    self.quarantine_runs_key(&key).await?;
                    Ok(None)
                }
                Err(e) => Err(map_err(&self.url, "HGET", e)),
            }
        })
    }

    fn put_run_record<'a>(
        &'a self,
        id: Uuid,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let key = validate::runs_topic(&self.cfg.topic_prefix);
            let mut conn = self.conn.clone();
            let mut quarantined = false;
            loop {
                let r: Result<Value, RedisError> = redis::cmd("HSET")
                    .arg(&key)
                    .arg(id.to_string())
                    .arg(&value)
                    .query_async(&mut conn)
                    .await;
                match r {
                    Ok(_) => return Ok(()),
                    Err(e) if e.code() == Some("WRONGTYPE") && !quarantined => {
                        self.quarantine_runs_key(&key).await?;
                        quarantined = true;
                    }
                    Err(e) => return Err(map_err(&self.url, "HSET", e)),
                }
            }
        })
    }

    fn swap_run_record<'a>(
        &'a self,
        id: Uuid,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, BusError>> {
        Box::pin(async move {
            let key = validate::runs_topic(&self.cfg.topic_prefix);
            let mut conn = self.conn.clone();
            // An absent field is `false` in Lua; onex never stores an empty record, so the
            // empty string stands for "absent" in the comparison.
            let r: Result<i64, RedisError> = SWAP
                .key(&key)
                .arg(id.to_string())
                .arg(expected.unwrap_or_default())
                .arg(&value)
                .invoke_async(&mut conn)
                .await;
            match r {
                Ok(n) => Ok(n == 1),
                Err(e) if e.code() == Some("WRONGTYPE") => {
                    self.quarantine_runs_key(&key).await?;
                    Ok(false)
                }
                Err(e) => Err(map_err(&self.url, "run state compare-and-set", e)),
            }
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut total = 0u64;
            for t in topics {
                let len: u64 = redis::cmd("XLEN")
                    .arg(t)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| map_err(&self.url, "XLEN", e))?;
                if len == 0 {
                    continue;
                }
                let groups: Value = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(t)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| map_err(&self.url, "XINFO GROUPS", e))?;
                total += match group_info(&groups, group) {
                    // Redis 7: `lag` = entries not yet delivered to the group; `pending` =
                    // delivered, unacked. `lag` is nil when trimming made it unknowable: then
                    // count what follows the group's last delivered id.
                    Some(info) => {
                        let undelivered = match info.lag {
                            Some(l) => l,
                            None => {
                                let ids: StreamRangeIds = redis::cmd("XRANGE")
                                    .arg(t)
                                    .arg(format!("({}", info.last_delivered))
                                    .arg("+")
                                    .query_async::<redis::streams::StreamRangeReply>(&mut conn)
                                    .await
                                    .map(StreamRangeIds::from)
                                    .map_err(|e| map_err(&self.url, "XRANGE", e))?;
                                ids.0.len() as u64
                            }
                        };
                        undelivered + info.pending
                    }
                    // The group has not read this stream: everything retained is lag.
                    None => len,
                };
            }
            Ok(total)
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: String = redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .map_err(|e| unreachable(&self.url, e))?;
            Ok(())
        })
    }
}

/// One group of an `XINFO GROUPS` reply.
struct GroupInfo {
    pending: u64,
    lag: Option<u64>,
    last_delivered: String,
}

/// The entry for `group` in an `XINFO GROUPS` reply (RESP2 flat lists or RESP3 maps).
fn group_info(reply: &Value, group: &str) -> Option<GroupInfo> {
    let Value::Array(groups) = reply else {
        return None;
    };
    groups.iter().find_map(|g| {
        let pairs: Vec<(&Value, &Value)> = match g {
            Value::Array(flat) => flat
                .chunks(2)
                .filter_map(|c| Some((c.first()?, c.get(1)?)))
                .collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
            _ => return None,
        };
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| {
                    matches!(k, Value::BulkString(b) if b == name.as_bytes())
                        || matches!(k, Value::SimpleString(s) if s == name)
                })
                .map(|(_, v)| *v)
        };
        let text = |v: &Value| match v {
            Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => Some(s.clone()),
            _ => None,
        };
        let int = |v: &Value| match v {
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        if field("name").and_then(text)? != group {
            return None;
        }
        Some(GroupInfo {
            pending: field("pending").and_then(int).unwrap_or(0),
            lag: field("lag").and_then(int),
            last_delivered: field("last-delivered-id")
                .and_then(text)
                .unwrap_or_else(|| "0-0".into()),
        })
    })
}

/// Entry ids of an XRANGE/XREVRANGE reply.
struct StreamRangeIds(Vec<String>);

impl From<redis::streams::StreamRangeReply> for StreamRangeIds {
    fn from(r: redis::streams::StreamRangeReply) -> Self {
        StreamRangeIds(r.ids.into_iter().map(|i| i.id).collect())
    }
}

struct RedisGroup {
    conn: ConnectionManager,
    read: ConnectionManager,
    url: String,
    group: String,
    member: String,
    topics: Vec<String>,
    lease: Duration,
    buffer: VecDeque<RawMessage>,
    held: Arc<Mutex<HashMap<String, HashSet<String>>>>,
    last_claim: Option<Instant>,
    renew: tokio::task::JoinHandle<()>,
}

impl Drop for RedisGroup {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

impl RedisGroup {
    fn hold(&self, topic: &str, id: &str) {
        if let Ok(mut h) = self.held.lock() {
            h.entry(topic.to_string())
                .or_default()
                .insert(id.to_string());
        }
    }

    /// Take over entries idle longer than the lease (their holder died).
    async fn autoclaim(&mut self) -> Result<(), BusError> {
        let min_idle = self.lease.as_millis() as u64;
        for t in self.topics.clone() {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(&t)
                .arg(&self.group)
                .arg(&self.member)
                .arg(min_idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(READ_BATCH)
                .query_async(&mut self.conn)
                .await
                .map_err(|e| map_err(&self.url, "XAUTOCLAIM", e))?;
            for entry in &reply.claimed {
                // XAUTOCLAIM counted this delivery; read the count for the dead-letter rule.
                let pending: Value = redis::cmd("XPENDING")
                    .arg(&t)
                    .arg(&self.group)
                    .arg(&entry.id)
                    .arg(&entry.id)
                    .arg(1)
                    .query_async(&mut self.conn)
                    .await
                    .map_err(|e| map_err(&self.url, "XPENDING", e))?;
                let deliveries = pending_count(&pending).unwrap_or(2);
                self.hold(&t, &entry.id);
                self.buffer.push_back(to_message(&t, entry, deliveries));
            }
        }
        Ok(())
    }

    async fn read(&mut self, block: Duration) -> Result<(), BusError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.member)
            .arg("COUNT")
            .arg(READ_BATCH);
        let ms = block.as_millis() as u64;
        if ms > 0 {
            cmd.arg("BLOCK").arg(ms);
        }
        cmd.arg("STREAMS").arg(&self.topics);
        for _ in &self.topics {
            cmd.arg(">");
        }
        let reply: Option<StreamReadReply> = cmd
            .query_async(&mut self.read)
            .await
            .map_err(|e| map_err(&self.url, "XREADGROUP", e))?;
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in &key.ids {
                self.hold(&key.key, &entry.id);
                self.buffer.push_back(to_message(&key.key, entry, 1));
            }
        }
        Ok(())
    }
}

/// `times_delivered` of the single entry of an `XPENDING key group id id 1` reply.
fn pending_count(v: &Value) -> Option<u32> {
    let Value::Array(rows) = v else { return None };
    let Value::Array(row) = rows.first()? else {
        return None;
    };
    match row.get(3)? {
        Value::Int(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

impl RawGroup for RedisGroup {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                if let Some(m) = self.buffer.pop_front() {
                    return Ok(Some(m));
                }
                let claim_due = self
                    .last_claim
                    .is_none_or(|t| t.elapsed() >= self.lease / 2);
                let step = async {
                    if claim_due {
                        self.last_claim = Some(Instant::now());
                        self.autoclaim().await?;
                        if !self.buffer.is_empty() {
                            return Ok(());
                        }
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    // Wake up in time for the next XAUTOCLAIM round.
                    self.read(left.min(self.lease / 2)).await
                };
                match step.await {
                    Ok(()) => {}
                    Err(e) if transient(&e) && Instant::now() < deadline => {
                        tracing::warn!(error = %e, "redis bus: read failed, retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(e),
                }
                if self.buffer.is_empty() && Instant::now() >= deadline {
                    return Ok(None);
                }
            }
        })
    }

    fn ack<'a>(&'a mut self, position: &'a Position) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let id = position.offset.to_string();
            let _: Value = redis::cmd("XACK")
                .arg(&position.topic)
                .arg(&self.group)
                .arg(&id)
                .query_async(&mut self.conn)
                .await
                .map_err(|e| map_err(&self.url, "XACK", e))?;
            if let Ok(mut h) = self.held.lock()
                && let Some(ids) = h.get_mut(&position.topic)
            {
                ids.remove(&id);
            }
            Ok(())
        })
    }

    fn ready(&mut self, _wait: Duration) -> BoxFuture<'_, Result<bool, BusError>> {
        Box::pin(async { Ok(true) })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        Box::pin(async move {
            self.renew.abort();
            // Mark what this member holds as idle for longer than the lease so that another
            // member's next XAUTOCLAIM takes it at once.
            let held: Vec<(String, Vec<String>)> = match self.held.lock() {
                Ok(h) => h
                    .iter()
                    .map(|(t, ids)| (t.clone(), ids.iter().cloned().collect()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            let idle = self.lease.as_millis() as u64 * 2;
            for (topic, ids) in held {
                if ids.is_empty() {
                    continue;
                }
                let _: Value = redis::cmd("XCLAIM")
                    .arg(&topic)
                    .arg(&self.group)
                    .arg(&self.member)
                    .arg(0)
                    .arg(&ids)
                    .arg("IDLE")
                    .arg(idle)
                    .arg("JUSTID")
                    .query_async(&mut self.conn)
                    .await
                    .map_err(|e| map_err(&self.url, "XCLAIM", e))?;
            }
            Ok(())
        })
    }
}

struct RedisObserver {
    read: ConnectionManager,
    url: String,
    topics: Vec<String>,
    ids: Vec<String>,
    buffer: VecDeque<RawMessage>,
}

impl RawObserver for RedisObserver {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                if let Some(m) = self.buffer.pop_front() {
                    return Ok(Some(m));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let mut cmd = redis::cmd("XREAD");
                cmd.arg("COUNT").arg(OBSERVE_BATCH);
                let ms = left.as_millis() as u64;
                if ms > 0 {
                    cmd.arg("BLOCK").arg(ms);
                }
                cmd.arg("STREAMS").arg(&self.topics).arg(&self.ids);
                let r: Result<Option<StreamReadReply>, RedisError> =
                    cmd.query_async(&mut self.read).await;
                match r {
                    Ok(reply) => {
                        for key in reply.map(|r| r.keys).unwrap_or_default() {
                            let Some(i) = self.topics.iter().position(|t| *t == key.key) else {
                                continue;
                            };
                            for entry in &key.ids {
                                self.ids[i] = entry.id.clone();
                                self.buffer.push_back(to_message(&key.key, entry, 0));
                            }
                        }
                    }
                    Err(e) => {
                        let e = map_err(&self.url, "XREAD", e);
                        if !transient(&e) || Instant::now() >= deadline {
                            return Err(e);
                        }
                        tracing::warn!(error = %e, "redis bus: observe read failed, retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                if self.buffer.is_empty() && Instant::now() >= deadline {
                    return Ok(None);
                }
            }
        })
    }
}
