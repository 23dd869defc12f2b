//! Shared helpers of the bus tests and benchmarks: broker discovery (environment, else the env
//! file of `scripts/brokers.sh`), per-test buses with unique topic prefixes, brokers started by
//! a test for restart tests, and valid envelopes of the catalogue.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onex_engine::bus::{BusConfig, Consumer, EventBus, Role, RunState, RunStatus, connect};
use onex_engine::events::{
    Component, Envelope, EventRegistry, EventSource, EventStatus, TraceContext,
};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
    Kafka,
}

/// A variable from the environment, else from `$ONEX_BROKERS_DIR/env` (default
/// /var/tmp/onex-brokers/env) written by `scripts/brokers.sh start`.
pub fn broker_var(key: &str) -> Option<String> {
    if let Ok(v) = std::env::var(key)
        && !v.is_empty()
    {
        return Some(v);
    }
    let dir = std::env::var("ONEX_BROKERS_DIR").unwrap_or_else(|_| "/var/tmp/onex-brokers".into());
    let text = std::fs::read_to_string(PathBuf::from(dir).join("env")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required() -> bool {
    std::env::var("ONEX_REQUIRE_BROKERS").is_ok_and(|v| v == "1")
}

/// Report a missing broker: a failure under ONEX_REQUIRE_BROKERS=1, else a visible skip.
pub fn missing(backend: Backend, test: &str, what: &str) {
    let msg = format!(
        "SKIPPED bus test `{test}` on {backend:?}: {what} (run scripts/brokers.sh start, or set it)"
    );
    if required() {
        panic!("ONEX_REQUIRE_BROKERS=1 and {msg}");
    }
    // Straight to the process's stderr: libtest captures eprintln! of passing tests, and a
    // skip must be visible.
    let _ = writeln!(std::io::stderr(), "{msg}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

pub fn test_config(url: &str, test: &str) -> BusConfig {
    let mut cfg = BusConfig::with_url(url);
    cfg.topic_prefix = format!("t{}.{test}.", Uuid::now_v7().simple());
    cfg.lease_ms = 1500;
    cfg.partitions = 4;
    cfg.timeout_ms = 10_000;
    let k: BTreeMap<String, String> = [
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("max.poll.interval.ms", "10000"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    cfg.kafka = k;
    cfg
}

/// A broker process a restart test owns (killed on drop).
struct OwnedBroker {
    cmd: Vec<String>,
    envs: Vec<(String, String)>,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl OwnedBroker {
    fn start(&mut self) {
        let log = std::fs::File::create(&self.log).expect("broker log");
        let child = Command::new(&self.cmd[0])
            .args(&self.cmd[1..])
            .envs(self.envs.iter().map(|(a, b)| (a, b)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.cmd[0]));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {}",
                self.cmd[0],
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnedBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct TestBus {
    pub bus: Arc<dyn EventBus>,
    pub cfg: BusConfig,
    pub backend: Backend,
    /// The catalogues the bus was opened with (reconnects use them too).
    pub events: Arc<EventRegistry>,
    dir: tempfile::TempDir,
    broker: Option<OwnedBroker>,
}

impl TestBus {
    /// A bus on the shared test broker of `backend`, or `None` (reported) when there is none.
    pub async fn new(backend: Backend, test: &str) -> Option<TestBus> {
        TestBus::new_with(backend, test, events()).await
    }

    /// [`TestBus::new`] for the event types of `events`.
    pub async fn new_with(
        backend: Backend,
        test: &str,
        events: Arc<EventRegistry>,
    ) -> Option<TestBus> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match backend {
            Backend::Embedded => format!("embedded:{}", dir.path().display()),
            Backend::Redis => match broker_var("ONEX_TEST_REDIS_URL") {
                Some(u) => u,
                None => {
                    missing(backend, test, "ONEX_TEST_REDIS_URL is not set");
                    return None;
                }
            },
            Backend::Kafka => match broker_var("ONEX_TEST_KAFKA_URL") {
                Some(u) => u,
                None => {
                    missing(backend, test, "ONEX_TEST_KAFKA_URL is not set");
                    return None;
                }
            },
        };
        let cfg = test_config(&url, test);
        match connect(&cfg, Role::Service, events.clone()).await {
            Ok(bus) => Some(TestBus {
                bus,
                cfg,
                backend,
                events,
                dir,
                broker: None,
            }),
            Err(e) => {
                missing(backend, test, &format!("{url} unreachable: {e}"));
                None
            }
        }
    }

    /// A bus on a broker this test starts and may restart (same port, persistent storage):
    /// Redis with AOF (`appendfsync always`), Tansu on the moto S3 emulator.
    pub async fn restartable(backend: Backend, test: &str) -> Option<TestBus> {
        TestBus::restartable_with(backend, test, events()).await
    }

    /// [`TestBus::restartable`] for the event types of `events`.
    pub async fn restartable_with(
        backend: Backend,
        test: &str,
        events: Arc<EventRegistry>,
    ) -> Option<TestBus> {
        if backend == Backend::Embedded {
            return TestBus::new_with(backend, test, events).await;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut broker = match backend {
            Backend::Redis => {
                let Some(bin) = broker_var("ONEX_TEST_REDIS_SERVER_BIN") else {
                    missing(backend, test, "ONEX_TEST_REDIS_SERVER_BIN is not set");
                    return None;
                };
                OwnedBroker {
                    cmd: [
                        bin.as_str(),
                        "--bind",
                        "127.0.0.1",
                        "--port",
                        &port.to_string(),
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                        "--dir",
                        &dir.path().display().to_string(),
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                    envs: vec![],
                    port,
                    child: None,
                    log: dir.path().join("redis.log"),
                }
            }
            Backend::Kafka => {
                let (Some(bin), Some(s3)) = (
                    broker_var("ONEX_TEST_TANSU_BIN"),
                    broker_var("ONEX_TEST_S3_URL"),
                ) else {
                    missing(
                        backend,
                        test,
                        "ONEX_TEST_TANSU_BIN / ONEX_TEST_S3_URL are not set",
                    );
                    return None;
                };
                let bucket = format!("onex-{}", Uuid::now_v7().simple());
                if let Err(e) = create_bucket(&s3, &bucket) {
                    missing(backend, test, &format!("S3 emulator at {s3}: {e}"));
                    return None;
                }
                let listener = format!("tcp://127.0.0.1:{port}");
                OwnedBroker {
                    cmd: vec![
                        bin,
                        "broker".into(),
                        "--listener-url".into(),
                        listener.clone(),
                        "--advertised-listener-url".into(),
                        listener,
                        "--storage-engine".into(),
                        format!("s3://{bucket}/"),
                    ],
                    envs: [
                        ("AWS_ENDPOINT", s3.as_str()),
                        ("AWS_ALLOW_HTTP", "true"),
                        ("AWS_ACCESS_KEY_ID", "x"),
                        ("AWS_SECRET_ACCESS_KEY", "x"),
                        ("AWS_DEFAULT_REGION", "us-east-1"),
                    ]
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                    port,
                    child: None,
                    log: dir.path().join("tansu.log"),
                }
            }
            Backend::Embedded => unreachable!("handled above"),
        };
        broker.start();
        let url = match backend {
            Backend::Redis => format!("redis://127.0.0.1:{port}"),
            _ => format!("kafka://127.0.0.1:{port}"),
        };
        let mut cfg = test_config(&url, test);
        // Short, so that a publish while the broker is down fails quickly.
        cfg.timeout_ms = 4000;
        let bus = connect(&cfg, Role::Service, events.clone())
            .await
            .unwrap_or_else(|e| panic!("connect to the test's own broker {url}: {e}"));
        Some(TestBus {
            bus,
            cfg,
            backend,
            events,
            dir,
            broker: Some(broker),
        })
    }

    /// A second, independent connection (as another process would have).
    pub async fn reconnect(&self) -> Arc<dyn EventBus> {
        connect(&self.cfg, Role::Service, self.events.clone())
            .await
            .expect("reconnect")
    }

    /// Kill the broker (SIGKILL) and start it again on the same port and storage; the
    /// embedded bus is closed and reopened. Then reconnect.
    pub async fn restart(&mut self) {
        self.kill_broker();
        self.start_broker().await;
    }

    /// SIGKILL the test's own broker (no-op for the embedded bus). True if there was one.
    pub fn kill_broker(&mut self) -> bool {
        match self.broker.as_mut() {
            Some(b) => {
                b.kill();
                true
            }
            None => false,
        }
    }

    /// Start the test's own broker again (same port and storage) and reconnect.
    pub async fn start_broker(&mut self) {
        if let Some(b) = self.broker.as_mut() {
            b.start();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match connect(&self.cfg, Role::Service, self.events.clone()).await {
                Ok(bus) if bus.health().await.is_ok() => {
                    self.bus = bus;
                    return;
                }
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "broker not back after restart: {:?}",
                        other.err()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// `PUT /bucket` on the S3 emulator (plain HTTP, no client library needed).
fn create_bucket(s3: &str, bucket: &str) -> std::io::Result<()> {
    let hostport = s3.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(
            resp.lines().next().unwrap_or("no response").to_string(),
        ))
    }
}

/// Wait until both members take part in the group (Kafka: the rebalance with both is done).
pub async fn wait_both_ready(c1: &mut Consumer, c2: &mut Consumer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = c1
            .wait_ready(Duration::from_millis(200))
            .await
            .expect("ready");
        let b = c2
            .wait_ready(Duration::from_millis(200))
            .await
            .expect("ready");
        if a && b {
            return;
        }
        assert!(Instant::now() < deadline, "group members never both ready");
    }
}

/// Receive and ack until nothing comes for `idle` or `max` messages were received; event ids.
pub async fn drain(
    c: &mut Consumer,
    max: usize,
    idle: Duration,
) -> Result<Vec<Uuid>, onex_engine::bus::BusError> {
    let mut out = Vec::new();
    while out.len() < max {
        match c.next(idle).await? {
            Some(d) => {
                c.ack(&d).await?;
                out.push(d.envelope.event_id);
            }
            None => break,
        }
    }
    Ok(out)
}

/// Like [`drain`], spending `work` on each message before acking it (simulated handling).
pub async fn drain_slowly(
    c: &mut Consumer,
    max: usize,
    idle: Duration,
    work: Duration,
) -> Result<Vec<Uuid>, onex_engine::bus::BusError> {
    let mut out = Vec::new();
    while out.len() < max {
        match c.next(idle).await? {
            Some(d) => {
                tokio::time::sleep(work).await;
                c.ack(&d).await?;
                out.push(d.envelope.event_id);
            }
            None => break,
        }
    }
    Ok(out)
}

fn trace() -> TraceContext {
    TraceContext {
        traceparent: format!(
            "00-{}-{}-01",
            Uuid::new_v4().simple(),
            &Uuid::new_v4().simple().to_string()[..16]
        ),
        tracestate: None,
    }
}

pub fn envelope(
    run: Uuid,
    event_type: &str,
    seq: u64,
    stage: &str,
    status: EventStatus,
    payload: serde_json::Value,
) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version: "1.0.0".into(),
        correlation_id: run,
        causation_id: None,
        seq,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage: stage.into(),
        status,
        source: EventSource {
            component: Component::Orchestrator,
            instance_id: "bus-test".into(),
            version: onex_engine::ENGINE_VERSION.into(),
        },
        trace: trace(),
        payload,
        workflow: None,
        outcome: None,
    }
}

/// The event catalogues the bus tests publish: the engine's own and a real workflow catalogue
/// of this repository (data only; the bus knows no workflow).
pub fn events() -> Arc<EventRegistry> {
    static EVENTS: std::sync::OnceLock<Arc<EventRegistry>> = std::sync::OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/pipeline_events.yaml");
            let catalog = onex_engine::contract::executable::load_catalog(&path)
                .unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
            Arc::new(EventRegistry::with([catalog]).expect("catalogues agree"))
        })
        .clone()
}

pub fn prompt(run: Uuid) -> Envelope {
    envelope(
        run,
        "PromptSubmitted",
        1,
        "pipeline",
        EventStatus::Started,
        json!({"prompt_text": "Create EFFECT node for database writes", "output_directory": "/tmp/out", "requested_by": "bus-test"}),
    )
}

pub fn progress(run: Uuid, seq: u64, attempt: u32) -> Envelope {
    let mut e = envelope(
        run,
        "GenerationProgress",
        seq,
        "generation",
        EventStatus::InProgress,
        json!({"current_file": format!("f{seq}.py"), "files_completed": seq, "total_files": 1000, "progress_percent": 0}),
    );
    e.attempt = attempt;
    e
}

pub fn completed(run: Uuid, seq: u64) -> Envelope {
    let mut e = envelope(
        run,
        "PipelineCompleted",
        seq,
        "pipeline",
        EventStatus::Completed,
        json!({
            "node_type": "EFFECT", "node_name": "PostgresWriter", "service_name": "postgres_writer",
            "domain": "infrastructure", "output_path": "/tmp/out/node", "files_written": ["a.py"],
            "validation_passed": true, "compilation_passed": true, "compilation_status": "passed",
            "warnings": [], "total_duration_seconds": 1.5, "stage_durations": {"parsing": 3}
        }),
    );
    e.outcome = Some(onex_engine::events::RunOutcome {
        status: onex_engine::events::OutcomeStatus::Success,
        outputs: Default::default(),
        failure: None,
        caused_by: None,
    });
    e
}

/// A short run spread over several topics, seq 1..=N with causation chained.
pub fn run_events(run: Uuid) -> Vec<Envelope> {
    let mut v = vec![
        prompt(run),
        envelope(
            run,
            "ParsingStarted",
            2,
            "parsing",
            EventStatus::Started,
            json!({"prompt_length": 38}),
        ),
    ];
    for seq in 3..=8 {
        v.push(progress(run, seq, 1));
    }
    v.push(completed(run, 9));
    for i in 1..v.len() {
        v[i].causation_id = Some(v[i - 1].event_id);
    }
    v
}

pub fn run_state(id: Uuid, terminal: Option<Envelope>) -> RunState {
    RunState {
        correlation_id: id,
        status: if terminal.is_some() {
            RunStatus::Completed
        } else {
            RunStatus::InProgress
        },
        terminal,
        attempt: 1,
        owner: Some("bus-test".into()),
        updated_at: Envelope::now_timestamp(),
        workflow: None,
    }
}
