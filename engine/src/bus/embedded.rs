//! The embedded back end: a durable log in one SQLite database (WAL mode) that several
//! processes on one machine share safely (`onex generate` and `onex orchestrator` as separate
//! processes). Tables: `messages` (the log; row id = offset, one partition per topic),
//! `group_cursors` (per group and topic, the highest id handed out), `leases` (delivered, not
//! yet acked messages with their holder, delivery count and lease expiry), `runs` (run state).
//!
//! Waiting readers poll with an adaptive interval (0.25 ms doubling to 8 ms while idle) and
//! are woken at once by publishes through the same bus handle (one `connect`); a publish from
//! another handle or process is seen within one interval.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    BoxFuture, BusConfig, BusError, ObserveFrom, Offset, Position, RawGroup, RawMessage,
    RawObserver, Transport,
};
use crate::events::Envelope;

const NAME: &str = "embedded";
const MIN_POLL: Duration = Duration::from_micros(250);
const MAX_POLL: Duration = Duration::from_millis(8);
/// Messages one claim takes; small so that group members share bursts.
const CLAIM_BATCH: usize = 4;
const OBSERVE_BATCH: usize = 256;
/// Retention runs once per this many publishes of one process.
const RETENTION_EVERY: u64 = 256;

type Conn = Arc<Mutex<Connection>>;

pub(crate) struct Embedded {
    path: PathBuf,
    conn: Conn,
    notify: Arc<Notify>,
    cfg: BusConfig,
    published: AtomicU64,
}

fn unreachable(path: &Path, e: impl std::fmt::Display) -> BusError {
    BusError::Unreachable {
        backend: NAME,
        target: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn db_err(op: &str, e: impl std::fmt::Display) -> BusError {
    BusError::broker(NAME, op, e)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn busy_wait(attempt: i32) -> bool {
    let nap = if attempt < 20 {
        Duration::from_micros(100)
    } else {
        Duration::from_millis(1)
    };
    std::thread::sleep(nap);
    attempt < 10_000
}

fn open_conn(path: &Path) -> Result<Connection, BusError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| unreachable(path, format!("create {}: {e}", dir.display())))?;
    }
    let mut conn = Connection::open(path).map_err(|e| unreachable(path, e))?;
    // SQLite's default busy handler backs off to 100 ms sleeps, which starves a waiting
    // process while another writes in a tight loop; short sleeps keep writers fair and reads
    // quick. Gives up after about 10 s.
    conn.busy_handler(Some(busy_wait))
        .map_err(|e| unreachable(path, e))?;
    // WAL: readers never block the writer and several processes share the file. NORMAL sync:
    // a committed transaction survives a process crash (it is in the WAL); only a power loss
    // can drop the last commits.
    // Several processes may create the file at once; switching to WAL needs a moment of
    // exclusive access, so a busy answer is retried (busy_timeout does not cover every case).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match setup(&conn) {
            Ok(()) => return Ok(conn),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(unreachable(path, e)),
        }
    }
}

fn setup(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS messages (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             topic TEXT NOT NULL,
             key TEXT,
             value BLOB NOT NULL,
             created_ms INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS messages_topic ON messages(topic, id);
         CREATE TABLE IF NOT EXISTS group_cursors (
             grp TEXT NOT NULL, topic TEXT NOT NULL, last_id INTEGER NOT NULL,
             PRIMARY KEY (grp, topic)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS leases (
             grp TEXT NOT NULL, msg_id INTEGER NOT NULL, topic TEXT NOT NULL,
             member TEXT NOT NULL, deliveries INTEGER NOT NULL, lease_until INTEGER NOT NULL,
             PRIMARY KEY (grp, msg_id)) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS leases_expiry ON leases(grp, lease_until);
         CREATE TABLE IF NOT EXISTS runs (
             correlation_id TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;",
    )
}

/// Run `f` on the connection in the blocking pool (SQLite may wait on another process's lock).
async fn with_conn<T, F>(conn: &Conn, op: &'static str, f: F) -> Result<T, BusError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
{
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = conn
            .lock()
            .map_err(|_| db_err(op, "connection lock poisoned"))?;
        f(&mut guard).map_err(|e| db_err(op, e))
    })
    .await
    .map_err(|e| db_err(op, e))?
}

impl Embedded {
    pub(crate) async fn open(cfg: &BusConfig, path: &Path) -> Result<Self, BusError> {
        let p = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_conn(&p))
            .await
            .map_err(|e| unreachable(path, e))??;
        Ok(Embedded {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            notify: Arc::new(Notify::new()),
            cfg: cfg.clone(),
            published: AtomicU64::new(0),
        })
    }

    async fn new_conn(&self) -> Result<Conn, BusError> {
        let p = self.path.clone();
        let path = self.path.clone();
        let c = tokio::task::spawn_blocking(move || open_conn(&p))
            .await
            .map_err(|e| unreachable(&path, e))??;
        Ok(Arc::new(Mutex::new(c)))
    }

    async fn apply_retention(&self, topic: &str) -> Result<(), BusError> {
        let max_age = self.cfg.retention.max_age_secs;
        let max_messages = self.cfg.retention.max_messages;
        let topic = topic.to_string();
        with_conn(&self.conn, "retention", move |c| {
            if let Some(age) = max_age {
                let cutoff = now_ms().saturating_sub(i64::try_from(age).unwrap_or(i64::MAX).saturating_mul(1000));
                c.execute("DELETE FROM messages WHERE topic = ?1 AND created_ms < ?2", params![topic, cutoff])?;
            }
            if let Some(max) = max_messages {
                c.execute(
                    "DELETE FROM messages WHERE topic = ?1 AND id <= (
                         SELECT id FROM messages WHERE topic = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                    params![topic, max as i64],
                )?;
            }
            Ok(())
        })
        .await
    }
}

fn row_message(
    topic: String,
    id: i64,
    key: Option<String>,
    value: Vec<u8>,
    deliveries: u32,
) -> RawMessage {
    RawMessage {
        position: Position {
            topic,
            partition: 0,
            offset: Offset::Index(id),
        },
        key,
        value,
        deliveries,
    }
}

impl Transport for Embedded {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn send<'a>(
        &'a self,
        topic: &'a str,
        key: &'a str,
        value: &'a [u8],
        _envelope: Option<&'a Envelope>,
    ) -> BoxFuture<'a, Result<Position, BusError>> {
        Box::pin(async move {
            let (t, k, v) = (topic.to_string(), key.to_string(), value.to_vec());
            let id = with_conn(&self.conn, "publish", move |c| {
                c.execute(
                    "INSERT INTO messages (topic, key, value, created_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![t, k, v, now_ms()],
                )?;
                Ok(c.last_insert_rowid())
            })
            .await?;
            self.notify.notify_waiters();
            if self.published.fetch_add(1, Ordering::Relaxed) % RETENTION_EVERY
                == RETENTION_EVERY - 1
            {
                self.apply_retention(topic).await?;
            }
            Ok(Position {
                topic: topic.to_string(),
                partition: 0,
                offset: Offset::Index(id),
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
            let conn = self.new_conn().await?;
            let (g, ts) = (group.to_string(), topics.to_vec());
            with_conn(&conn, "join group", move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                for t in &ts {
                    tx.execute(
                        "INSERT OR IGNORE INTO group_cursors (grp, topic, last_id) VALUES (?1, ?2, 0)",
                        params![g, t],
                    )?;
                }
                tx.commit()
            })
            .await?;
            let lease = self.cfg.lease();
            // Renew this member's leases while it lives; a dead member stops renewing and its
            // messages go back to the group after one lease.
            let renew = {
                let conn = conn.clone();
                let (g, m) = (group.to_string(), member.to_string());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(lease / 3).await;
                        let (g, m) = (g.clone(), m.clone());
                        let until = now_ms() + lease.as_millis() as i64;
                        let r = with_conn(&conn, "renew leases", move |c| {
                            c.execute(
                                "UPDATE leases SET lease_until = ?3 WHERE grp = ?1 AND member = ?2",
                                params![g, m, until],
                            )
                        })
                        .await;
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "embedded bus: lease renewal failed");
                        }
                    }
                })
            };
            Ok(Box::new(EmbeddedGroup {
                conn,
                notify: self.notify.clone(),
                group: group.to_string(),
                member: member.to_string(),
                topics: topics.to_vec(),
                lease,
                buffer: Default::default(),
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
            let conn = self.new_conn().await?;
            let end: i64 = with_conn(&conn, "observe", |c| {
                c.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                    r.get(0)
                })
            })
            .await?;
            let mut cursors: HashMap<String, i64> = HashMap::new();
            for t in topics {
                let start = match from {
                    ObserveFrom::End => end,
                    ObserveFrom::Beginning => 0,
                    ObserveFrom::Positions(ps) => ps
                        .iter()
                        .find(|p| &p.topic == t)
                        .map(|p| match p.offset {
                            Offset::Index(i) => Ok(i - 1),
                            other => Err(BusError::Config(format!(
                                "offset {other} is not an embedded log offset (an integer)"
                            ))),
                        })
                        .transpose()?
                        .unwrap_or(0),
                };
                cursors.insert(t.clone(), start);
            }
            let scanned = cursors.values().copied().min().unwrap_or(0);
            Ok(Box::new(EmbeddedObserver {
                conn,
                notify: self.notify.clone(),
                cursors,
                scanned,
                buffer: Default::default(),
            }) as Box<dyn RawObserver>)
        })
    }

    fn get_run_record<'a>(&'a self, id: Uuid) -> BoxFuture<'a, Result<Option<Vec<u8>>, BusError>> {
        Box::pin(
            async move { with_conn(&self.conn, "get run state", move |c| read_run(c, id)).await },
        )
    }

    fn put_run_record<'a>(
        &'a self,
        id: Uuid,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            with_conn(&self.conn, "put run state", move |c| {
                write_run(c, id, value)
            })
            .await
        })
    }

    fn swap_run_record<'a>(
        &'a self,
        id: Uuid,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, BusError>> {
        Box::pin(async move {
            with_conn(&self.conn, "claim run state", move |c| {
                // IMMEDIATE: the write lock is taken before the read, so no other process
                // (or connection) can write the record between the compare and the set.
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if read_run(&tx, id)? != expected {
                    return Ok(false);
                }
                write_run(&tx, id, value)?;
                tx.commit()?;
                Ok(true)
            })
            .await
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let (group, topics) = (group.to_owned(), topics.to_vec());
            with_conn(&self.conn, "lag", move |c| {
                // Not yet handed out (after the group's cursor) plus handed out and unacked.
                let mut total = 0i64;
                for t in &topics {
                    total += c.query_row(
                        "SELECT (SELECT COUNT(*) FROM messages WHERE topic = ?2 AND id > COALESCE(
                                    (SELECT last_id FROM group_cursors WHERE grp = ?1 AND topic = ?2), 0))
                              + (SELECT COUNT(*) FROM leases WHERE grp = ?1 AND topic = ?2)",
                        params![group, t],
                        |r| r.get::<_, i64>(0),
                    )?;
                }
                Ok(total.max(0) as u64)
            })
            .await
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            with_conn(&self.conn, "health", |c| {
                c.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
            })
            .await
            .map(|_| ())
            .map_err(|e| unreachable(&self.path, e))
        })
    }
}

/// A run-state row's bytes (TEXT as written by onex; any other storage class as stored).
fn read_run(c: &Connection, id: Uuid) -> rusqlite::Result<Option<Vec<u8>>> {
    c.query_row(
        "SELECT state FROM runs WHERE correlation_id = ?1",
        params![id.to_string()],
        |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                    b.to_vec()
                }
                other => format!("{other:?}").into_bytes(),
            })
        },
    )
    .optional()
}

fn write_run(c: &Connection, id: Uuid, value: Vec<u8>) -> rusqlite::Result<()> {
    let text = String::from_utf8(value)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    c.execute(
        "INSERT OR REPLACE INTO runs (correlation_id, state) VALUES (?1, ?2)",
        params![id.to_string(), text],
    )
    .map(|_| ())
}

struct EmbeddedGroup {
    conn: Conn,
    notify: Arc<Notify>,
    group: String,
    member: String,
    topics: Vec<String>,
    lease: Duration,
    buffer: std::collections::VecDeque<RawMessage>,
    renew: tokio::task::JoinHandle<()>,
}

impl Drop for EmbeddedGroup {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

/// Claim up to `CLAIM_BATCH` messages for `member`: expired leases of the group first (their
/// holder died), then new messages after the group's cursors.
fn claim(
    c: &mut Connection,
    group: &str,
    member: &str,
    topics: &[String],
    lease_ms: i64,
) -> rusqlite::Result<Vec<RawMessage>> {
    let now = now_ms();
    let until = now + lease_ms;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::new();
    {
        let mut expired = tx.prepare_cached(
            "SELECT msg_id, topic, deliveries FROM leases
             WHERE grp = ?1 AND lease_until < ?2 ORDER BY msg_id LIMIT ?3",
        )?;
        let rows: Vec<(i64, String, u32)> = expired
            .query_map(params![group, now, CLAIM_BATCH as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (id, topic, deliveries) in rows {
            if !topics.contains(&topic) {
                continue;
            }
            let msg: Option<(Option<String>, Vec<u8>)> = tx
                .query_row(
                    "SELECT key, value FROM messages WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match msg {
                Some((key, value)) => {
                    tx.execute(
                        "UPDATE leases SET member = ?3, deliveries = deliveries + 1, lease_until = ?4
                         WHERE grp = ?1 AND msg_id = ?2",
                        params![group, id, member, until],
                    )?;
                    out.push(row_message(topic, id, key, value, deliveries + 1));
                }
                // Removed by retention meanwhile: nothing left to deliver.
                None => {
                    tx.execute(
                        "DELETE FROM leases WHERE grp = ?1 AND msg_id = ?2",
                        params![group, id],
                    )?;
                }
            }
        }
    }
    if out.is_empty() {
        let mut fresh: Vec<(i64, String, Option<String>, Vec<u8>)> = Vec::new();
        for t in topics {
            let last: i64 = tx
                .query_row(
                    "SELECT last_id FROM group_cursors WHERE grp = ?1 AND topic = ?2",
                    params![group, t],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let mut q = tx.prepare_cached(
                "SELECT id, key, value FROM messages WHERE topic = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = q.query_map(params![t, last, CLAIM_BATCH as i64], |r| {
                Ok((r.get::<_, i64>(0)?, t.clone(), r.get(1)?, r.get(2)?))
            })?;
            for row in rows {
                fresh.push(row?);
            }
        }
        fresh.sort_by_key(|r| r.0);
        fresh.truncate(CLAIM_BATCH);
        let mut last_by_topic: HashMap<String, i64> = HashMap::new();
        for (id, topic, key, value) in fresh {
            tx.execute(
                "INSERT OR REPLACE INTO leases (grp, msg_id, topic, member, deliveries, lease_until)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![group, id, topic, member, until],
            )?;
            let e = last_by_topic.entry(topic.clone()).or_insert(id);
            *e = (*e).max(id);
            out.push(row_message(topic, id, key, value, 1));
        }
        for (topic, id) in last_by_topic {
            tx.execute(
                "INSERT INTO group_cursors (grp, topic, last_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (grp, topic) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
                params![group, topic, id],
            )?;
        }
    }
    tx.commit()?;
    Ok(out)
}

impl RawGroup for EmbeddedGroup {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            let mut interval = MIN_POLL;
            loop {
                if let Some(m) = self.buffer.pop_front() {
                    return Ok(Some(m));
                }
                let (g, m, ts, lease) = (
                    self.group.clone(),
                    self.member.clone(),
                    self.topics.clone(),
                    self.lease.as_millis() as i64,
                );
                // Registered before the claim so that a publish during the claim is not missed.
                let notified = self.notify.notified();
                let got =
                    with_conn(&self.conn, "claim", move |c| claim(c, &g, &m, &ts, lease)).await?;
                if !got.is_empty() {
                    self.buffer.extend(got);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(interval.min(left)) => {}
                }
                interval = (interval * 2).min(MAX_POLL);
            }
        })
    }

    fn ack<'a>(&'a mut self, position: &'a Position) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let Offset::Index(id) = position.offset else {
                return Err(BusError::UnknownDelivery(position.to_string()));
            };
            let (g, m) = (self.group.clone(), self.member.clone());
            let n = with_conn(&self.conn, "ack", move |c| {
                c.execute(
                    "DELETE FROM leases WHERE grp = ?1 AND msg_id = ?2 AND member = ?3",
                    params![g, id, m],
                )
            })
            .await?;
            if n == 0 {
                // The lease expired and another member holds it now: it will be handled twice
                // (at-least-once); say so rather than fail the handler.
                tracing::warn!(position = %position, "embedded bus: ack after the lease moved to another member");
            }
            Ok(())
        })
    }

    fn ready(&mut self, _wait: Duration) -> BoxFuture<'_, Result<bool, BusError>> {
        Box::pin(async { Ok(true) })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        Box::pin(async move {
            self.renew.abort();
            // Hand back what this member holds (buffered or unacked) at once.
            let (g, m) = (self.group.clone(), self.member.clone());
            with_conn(&self.conn, "leave group", move |c| {
                c.execute(
                    "UPDATE leases SET lease_until = 0 WHERE grp = ?1 AND member = ?2",
                    params![g, m],
                )
                .map(|_| ())
            })
            .await
        })
    }
}

struct EmbeddedObserver {
    conn: Conn,
    notify: Arc<Notify>,
    /// Per topic, the last id handed out (or the position before the start).
    cursors: HashMap<String, i64>,
    /// The log is one sequence of ids across topics: every id up to here has been looked at.
    /// Without it a topic that gets no messages would hold the scan at its start forever.
    scanned: i64,
    buffer: std::collections::VecDeque<RawMessage>,
}

impl RawObserver for EmbeddedObserver {
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<RawMessage>, BusError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            let mut interval = MIN_POLL;
            loop {
                if let Some(m) = self.buffer.pop_front() {
                    if let Some(c) = self.cursors.get_mut(&m.position.topic)
                        && let Offset::Index(i) = m.position.offset
                    {
                        *c = (*c).max(i);
                    }
                    return Ok(Some(m));
                }
                let notified = self.notify.notified();
                let (cursors, from) = (self.cursors.clone(), self.scanned);
                let (got, scanned) = with_conn(&self.conn, "observe", move |c| {
                    let topics: Vec<&String> = cursors.keys().collect();
                    let list = serde_json::to_string(&topics).unwrap_or_else(|_| "[]".into());
                    let mut q = c.prepare_cached(
                        "SELECT id, topic, key, value FROM messages
                         WHERE id > ?1 AND topic IN (SELECT value FROM json_each(?2))
                         ORDER BY id LIMIT ?3",
                    )?;
                    let rows = q.query_map(params![from, list, OBSERVE_BATCH as i64], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get(2)?,
                            r.get(3)?,
                        ))
                    })?;
                    let mut out = Vec::new();
                    let mut scanned = from;
                    for row in rows {
                        let (id, topic, key, value) = row?;
                        scanned = scanned.max(id);
                        // A topic started from a later position skips what precedes it.
                        if cursors.get(&topic).is_some_and(|c| id > *c) {
                            out.push(row_message(topic, id, key, value, 0));
                        }
                    }
                    Ok((out, scanned))
                })
                .await?;
                let moved = scanned > self.scanned;
                self.scanned = scanned;
                if moved {
                    // Rows were read (possibly all before their topic's start): look further
                    // at once.
                    self.buffer.extend(got);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(interval.min(left)) => {}
                }
                interval = (interval * 2).min(MAX_POLL);
            }
        })
    }
}
