//! Run ownership through the bus, on every back end (a macro instantiates the tests per back
//! end, like the conformance suite): one run per correlation id and one terminal event however
//! often and to however many orchestrators its trigger is delivered; a corrupt run-state record
//! is quarantined and the orchestrator keeps going; a broker outage strands no trigger. The
//! workflow is the engine tests' generic job (tests/fixtures/workflows), its one stage a
//! handler that takes a moment and counts its runs per correlation id.

mod bus_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus_support::*;
use onex_engine::bus::{EventBus, ObserveFrom, RunStatus};
use onex_engine::contract::executable::{HandlerInfo, Outputs};
use onex_engine::events::{Component, Envelope};
use onex_engine::pipeline::run::{event_source, trigger_envelope};
use onex_engine::pipeline::{Executor, HandlerEntry, Handlers, Services, StageCtx, StageError};
use onex_engine::service::{Orchestrator, OrchestratorOptions};
use onex_engine::workflow::{Workflow, WorkflowSet};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Stage runs per correlation id, over every test of this binary (ids are unique).
static RUNS: Mutex<Option<HashMap<Uuid, usize>>> = Mutex::new(None);

fn runs_of(id: Uuid) -> usize {
    RUNS.lock()
        .unwrap()
        .as_ref()
        .and_then(|m| m.get(&id).copied())
        .unwrap_or(0)
}

/// Simulated work: long enough for a duplicate delivery to arrive while the run executes.
async fn work(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let id = ctx.run.request.correlation_id;
    *RUNS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(id)
        .or_default() += 1;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(json!({ "out": { "done": true } }))
}

static HANDLERS: &[HandlerEntry] = &[HandlerEntry {
    name: "work",
    info: HandlerInfo {
        stage: true,
        gate: false,
        outputs: Outputs::Fixed(&["out"]),
        doc: "test handler: counts its runs",
        params: &[],
        check_params: None,
        param_expressions: None,
        param_event: None,
        failure_codes: &[],
    },
    stage: Some(|c| Box::pin(work(c))),
    gate: None,
}];

fn handlers() -> Handlers {
    Handlers::builtin().with(HANDLERS).expect("unique names")
}

fn workflow() -> Workflow {
    let root = json!({
        "contract_version": {"major": 1, "minor": 0, "patch": 0},
        "name": "test_job_orchestrator", "node_type": "ORCHESTRATOR_GENERIC",
        "workflow_coordination": {"workflow_definition": {
            "workflow_metadata": {"workflow_name": "test_job", "execution_mode": "sequential"},
            "execution_graph": {"nodes": [
                {"node_id": "work", "node_type": "COMPUTE_GENERIC", "depends_on": []}]}}},
        "onex": {"catalog": "test_events.yaml", "triggers": ["JobSubmitted"],
                 "run_timeout_ms": 60_000, "stages": [{"id": "work", "handler": "work"}],
                 "result": {"job": "trigger.job"}},
    });
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/workflows");
    let text = serde_json::to_string_pretty(&root).unwrap();
    Workflow::load_str(&dir.join("test.yaml"), &text, &handlers())
        .unwrap_or_else(|d| panic!("test workflow does not validate: {d:#?}"))
}

fn set() -> Arc<WorkflowSet> {
    Arc::new(WorkflowSet::new(vec![workflow()]).unwrap())
}

fn orchestrator(bus: Arc<dyn EventBus>, set: &Arc<WorkflowSet>) -> Arc<Orchestrator> {
    let exec = Executor::new(
        Arc::new(handlers()),
        Arc::new(Services::default()),
        set.events().clone(),
        event_source(Component::Orchestrator),
    );
    Orchestrator::new(
        bus,
        Arc::new(exec),
        set.clone(),
        OrchestratorOptions {
            poll: Duration::from_millis(100),
            ..OrchestratorOptions::default()
        },
    )
}

fn trigger(job: &str) -> Envelope {
    trigger_envelope(
        "JobSubmitted",
        json!({"job": job}),
        Uuid::now_v7(),
        event_source(Component::Cli),
    )
}

/// Orchestrators consuming in the background until the test says stop.
struct Running {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(orchs: Vec<Arc<Orchestrator>>) -> Running {
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut ready = Vec::new();
        for o in orchs {
            ready.push(o.ready());
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                o.run(stop).await.expect("orchestrator failed");
            }));
        }
        // Publish only once every member takes part (Kafka: the rebalance is over).
        for mut r in ready {
            tokio::time::timeout(Duration::from_secs(60), r.wait_for(|v| *v))
                .await
                .expect("orchestrator never ready")
                .unwrap();
        }
        Running { stop, tasks }
    }

    async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("an orchestrator did not stop within 60 s of its shutdown")
                .unwrap();
        }
    }
}

/// Terminal event ids per correlation id (and dead letters' correlation ids) seen by `obs`
/// until every id of `want` has one, or `limit` passed.
async fn terminals(
    obs: &mut onex_engine::bus::Observer,
    want: &HashSet<Uuid>,
    seen: &mut BTreeMap<Uuid, HashSet<Uuid>>,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && !want.iter().all(|id| seen.contains_key(id)) {
        if let Some(o) = obs.next(Duration::from_millis(500)).await.unwrap() {
            let e = o.envelope;
            if e.is_terminal() || e.event_type == "DeadLettered" {
                seen.entry(e.correlation_id).or_default().insert(e.event_id);
            }
        }
    }
}

/// Every trigger published twice (the same record, as a retrying client or a redelivering
/// broker would), to `members` orchestrators: each id runs once and has one terminal event.
async fn duplicates(backend: Backend, members: usize, test: &str) {
    let set = set();
    let Some(t) = TestBus::new_with(backend, test, set.events().clone()).await else {
        return;
    };
    let mut orchs = vec![orchestrator(t.bus.clone(), &set)];
    for _ in 1..members {
        orchs.push(orchestrator(t.reconnect().await, &set));
    }
    let running = Running::start(orchs).await;
    let topics = t.bus.all_topics();
    let mut obs = t.bus.observe(&topics, ObserveFrom::End).await.unwrap();
    let n = 6;
    let mut want = HashSet::new();
    for i in 0..n {
        let trig = trigger(&format!("job {i}"));
        want.insert(trig.correlation_id);
        t.bus.publish(&trig).await.unwrap();
        t.bus.publish(&trig).await.unwrap();
    }
    let mut seen = BTreeMap::new();
    terminals(&mut obs, &want, &mut seen, Duration::from_secs(60)).await;
    // Let the duplicates settle too (a second run would end within its 300 ms of work).
    let grace = Instant::now() + Duration::from_secs(2);
    while let Some(o) = obs
        .next(grace.saturating_duration_since(Instant::now()))
        .await
        .unwrap()
    {
        if o.envelope.is_terminal() {
            seen.entry(o.envelope.correlation_id)
                .or_default()
                .insert(o.envelope.event_id);
        }
    }
    running.stop().await;
    for id in &want {
        let ids = seen.get(id).cloned().unwrap_or_default();
        assert_eq!(
            ids.len(),
            1,
            "run {id}: {} distinct terminal events (one expected), {} stage runs",
            ids.len(),
            runs_of(*id)
        );
        assert_eq!(runs_of(*id), 1, "run {id} executed {} times", runs_of(*id));
        let st = t.bus.get_run_state(*id).await.unwrap().expect("run state");
        assert_eq!(st.status, RunStatus::Completed);
    }
}

async fn duplicates_one_orchestrator(backend: Backend) {
    duplicates(backend, 1, "duplicates_one_orchestrator").await
}

async fn duplicates_two_orchestrators(backend: Backend) {
    duplicates(backend, 2, "duplicates_two_orchestrators").await
}

/// Concurrent claims of one run through separate connections: exactly one wins.
async fn claim_is_atomic(backend: Backend) {
    let set = set();
    let Some(t) = TestBus::new_with(backend, "claim_is_atomic", set.events().clone()).await else {
        return;
    };
    let mut buses = vec![t.bus.clone()];
    for _ in 1..4 {
        buses.push(t.reconnect().await);
    }
    for _ in 0..5 {
        let id = Uuid::now_v7();
        let claims = buses.iter().enumerate().map(|(i, b)| {
            let b = b.clone();
            async move {
                b.claim_run(id, &format!("orch-{i}"), None, Duration::from_secs(30))
                    .await
                    .unwrap()
            }
        });
        let results = futures_util::future::join_all(claims).await;
        let won = results
            .iter()
            .filter(|c| matches!(c, onex_engine::bus::Claim::Won(_)))
            .count();
        // Kafka: writers in separate processes rely on the partition owner rule, so only
        // the claims of one connection are atomic there.
        if backend != Backend::Kafka {
            assert_eq!(won, 1, "{results:?}");
        } else {
            assert!(won >= 1, "{results:?}");
        }
        // A claim by a second owner while the first is fresh is refused; the first owner's
        // own record is taken again as its next attempt (the attempt that wrote it is gone).
        let first = t.bus.get_run_state(id).await.unwrap().expect("record");
        let owner = first.owner.clone().unwrap();
        let other = if owner == "orch-0" {
            "orch-1"
        } else {
            "orch-0"
        };
        assert!(matches!(
            t.bus
                .claim_run(id, other, None, Duration::from_secs(30))
                .await
                .unwrap(),
            onex_engine::bus::Claim::Held(_)
        ));
        match t
            .bus
            .claim_run(id, &owner, None, Duration::from_secs(30))
            .await
            .unwrap()
        {
            onex_engine::bus::Claim::Won(st) => assert_eq!(st.attempt, first.attempt + 1),
            other => panic!("own record not taken again: {other:?}"),
        }
    }
}

/// Write bytes that are not a run-state record where the record of `id` lives.
async fn corrupt_record(t: &TestBus, id: Uuid) {
    let garbage = b"{not a run state \xff".to_vec();
    match t.backend {
        Backend::Embedded => {
            let path = t
                .cfg
                .url
                .strip_prefix("embedded:")
                .map(PathBuf::from)
                .unwrap()
                .join(onex_engine::bus::EMBEDDED_FILE);
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute(
                "INSERT OR REPLACE INTO runs (correlation_id, state) VALUES (?1, ?2)",
                rusqlite::params![id.to_string(), garbage],
            )
            .unwrap();
        }
        Backend::Redis => {
            let client = ::redis::Client::open(t.cfg.url.as_str()).unwrap();
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            let key = format!("{}onex.runs", t.cfg.topic_prefix);
            let _: () = ::redis::cmd("HSET")
                .arg(&key)
                .arg(id.to_string())
                .arg(&garbage)
                .query_async(&mut c)
                .await
                .unwrap();
        }
        Backend::Kafka => {
            let topic = format!("{}onex.runs", t.cfg.topic_prefix);
            t.bus
                .publish_raw(&topic, &id.to_string(), &garbage)
                .await
                .unwrap();
        }
    }
}

async fn dead_letters(bus: &dyn EventBus, id: Uuid) -> Vec<Envelope> {
    let mut obs = bus
        .observe(&[bus.dlq_topic()], ObserveFrom::Beginning)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(o) = obs.next(Duration::from_millis(1500)).await.unwrap() {
        if o.envelope.correlation_id == id {
            out.push(o.envelope);
        }
    }
    out
}

/// A run whose record is garbage: a clear error, the record quarantined to the dlq topic, the
/// run executes and the orchestrator goes on with the next one.
async fn corrupt_run_record_is_quarantined(backend: Backend) {
    let set = set();
    let Some(t) = TestBus::new_with(
        backend,
        "corrupt_run_record_is_quarantined",
        set.events().clone(),
    )
    .await
    else {
        return;
    };
    let first = trigger("job with a corrupt record");
    corrupt_record(&t, first.correlation_id).await;
    assert!(
        matches!(
            t.bus.get_run_state(first.correlation_id).await,
            Err(onex_engine::bus::BusError::Decode { .. })
        ),
        "reading garbage is a decode error naming the record"
    );
    let second = trigger("the next job");
    let running = Running::start(vec![orchestrator(t.bus.clone(), &set)]).await;
    let topics = t.bus.all_topics();
    let mut obs = t.bus.observe(&topics, ObserveFrom::End).await.unwrap();
    t.bus.publish(&first).await.unwrap();
    t.bus.publish(&second).await.unwrap();
    let want: HashSet<Uuid> = [first.correlation_id, second.correlation_id].into();
    let mut seen = BTreeMap::new();
    terminals(&mut obs, &want, &mut seen, Duration::from_secs(60)).await;
    running.stop().await;
    for id in &want {
        let st = t.bus.get_run_state(*id).await.unwrap().expect("record");
        assert_eq!(st.status, RunStatus::Completed, "run {id}");
    }
    let dl = dead_letters(t.bus.as_ref(), first.correlation_id).await;
    assert!(
        dl.iter().any(|e| e.payload["original_topic"]
            .as_str()
            .is_some_and(|t| t.ends_with("onex.runs"))
            && e.payload["error_kind"] == "decode"),
        "the corrupt record was not quarantined to the dlq: {dl:?}"
    );
}

/// The broker goes away for longer than the nack retries (1 s, 2 s) while runs are queued and
/// in flight, then comes back (AOF, same storage): every run still ends, within the lease plus
/// the stale-record window plus its run time of the broker's return, and only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_longer_than_the_retries_strands_no_trigger() {
    let set = set();
    let Some(mut t) =
        TestBus::restartable_with(Backend::Redis, "redis_outage", set.events().clone()).await
    else {
        return;
    };
    let running = Running::start(vec![orchestrator(t.bus.clone(), &set)]).await;
    let mut want = Vec::new();
    for i in 0..12 {
        let trig = trigger(&format!("job {i}"));
        want.push(trig.correlation_id);
        t.bus.publish(&trig).await.unwrap();
    }
    assert!(t.kill_broker());
    // The outage itself (not a wait for an event): longer than every retry delay together.
    tokio::time::sleep(Duration::from_secs(5)).await;
    t.start_broker().await;
    let back = Instant::now();
    // lease 1.5 s + stale_after 6 s + a run, with room for a loaded machine.
    let limit = Duration::from_secs(45);
    let mut open: Vec<Uuid> = want.clone();
    while !open.is_empty() && back.elapsed() < limit {
        let mut still = Vec::new();
        for id in open {
            match t.bus.get_run_state(id).await {
                Ok(Some(st)) if st.status != RunStatus::InProgress => {}
                _ => still.push(id),
            }
        }
        open = still;
        if !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let took = back.elapsed();
    running.stop().await;
    assert!(
        open.is_empty(),
        "{} of {} runs did not end within {limit:?} of the broker's return: {open:?}",
        open.len(),
        want.len()
    );
    for id in &want {
        let st = t.bus.get_run_state(*id).await.unwrap().unwrap();
        assert_eq!(st.status, RunStatus::Completed, "run {id}: {st:?}");
        assert!(runs_of(*id) >= 1);
    }
    eprintln!("every run ended {took:?} after the broker came back");
}

macro_rules! runs_suite {
    ($($module:ident => $backend:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn duplicates_one_orchestrator() { super::duplicates_one_orchestrator($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn duplicates_two_orchestrators() { super::duplicates_two_orchestrators($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn claim_is_atomic() { super::claim_is_atomic($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn corrupt_run_record_is_quarantined() { super::corrupt_run_record_is_quarantined($backend).await }
        }
    )*};
}

runs_suite! {
    embedded => Backend::Embedded,
    redis => Backend::Redis,
    kafka => Backend::Kafka,
}
