//! Scale-out and faults with real brokers and real processes: two `onex orchestrator`s in one
//! consumer group share 200 submissions; one of them is SIGKILLed mid-stream and every run still
//! ends once, with a complete node directory and nothing half-written.

mod common;

use common::{broker, events, fast_group_config, file_count, orchestrator, trigger};
use onex_engine::bus::{self, BusConfig, EventBus, ObserveFrom, Role};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const RUNS: usize = 200;

async fn share_the_work(url: String, kill_after: Option<usize>) {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let prefix = format!("scale{}.", Uuid::now_v7().simple());
    fast_group_config(state.path());
    let mut cfg = BusConfig::with_url(&url);
    cfg.topic_prefix = prefix.clone();
    let bus: Arc<dyn EventBus> = bus::connect(&cfg, Role::Service, events()).await.unwrap();
    let terminals: Vec<String> = ["PipelineCompleted", "PipelineFailed"]
        .iter()
        .map(|t| bus.topic(t).unwrap())
        .collect();
    let mut observer = bus
        .observe(&terminals, ObserveFrom::Beginning)
        .await
        .unwrap();

    let mut a = Some(orchestrator(state.path(), &url, &prefix, &out, true));
    let _b = orchestrator(state.path(), &url, &prefix, &out, true);

    let mut ids = BTreeSet::new();
    for i in 0..RUNS {
        let t = trigger("OrderWriter", i, &out);
        ids.insert(t.correlation_id);
        bus.publish(&t).await.unwrap();
    }
    // correlation id → terminal event ids seen (re-emits repeat the same id).
    let mut seen: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    let mut instances = BTreeSet::new();
    let mut failed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.len() < RUNS {
        assert!(
            Instant::now() < deadline,
            "only {} of {RUNS} runs ended",
            seen.len()
        );
        let Some(o) = observer.next(Duration::from_millis(500)).await.unwrap() else {
            continue;
        };
        let e = o.envelope;
        if !ids.contains(&e.correlation_id) {
            continue;
        }
        if e.event_type == "PipelineFailed" {
            failed.push(format!("{}: {}", e.correlation_id, e.payload));
        }
        instances.insert(e.source.instance_id.clone());
        seen.entry(e.correlation_id).or_default().insert(e.event_id);
        if kill_after == Some(seen.len())
            && let Some(mut victim) = a.take()
        {
            victim.0.kill().unwrap(); // SIGKILL: no cleanup, no goodbye to the group
            victim.0.wait().unwrap();
        }
    }
    assert!(failed.is_empty(), "failed runs: {failed:#?}");
    let twice: Vec<_> = seen.iter().filter(|(_, t)| t.len() != 1).collect();
    assert!(
        twice.is_empty(),
        "runs with more than one terminal outcome: {twice:?}"
    );
    assert!(
        instances.len() >= 2,
        "both orchestrators did work: {instances:?}"
    );

    // 200 complete node directories; no staging, nothing half-written.
    let dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let stray: Vec<_> = dirs
        .iter()
        .filter(|d| {
            !d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("node_")
        })
        .collect();
    assert!(stray.is_empty(), "left behind: {stray:?}");
    assert_eq!(dirs.len(), RUNS);
    for d in &dirs {
        assert_eq!(file_count(d), 12, "{} is complete", d.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orchestrators_share_200_submissions_on_kafka() {
    if let Some(url) = broker("ONEX_TEST_KAFKA_URL") {
        share_the_work(url, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_two_orchestrators_mid_stream_on_kafka() {
    if let Some(url) = broker("ONEX_TEST_KAFKA_URL") {
        share_the_work(url, Some(RUNS / 4)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_two_orchestrators_mid_stream_on_redis() {
    if let Some(url) = broker("ONEX_TEST_REDIS_URL") {
        share_the_work(url, Some(RUNS / 4)).await;
    }
}
