//! The broker restarts while an orchestrator process is working through submissions (Kafka on
//! Tansu with S3 storage, Redis with AOF): nothing is lost — every submitted run reaches exactly
//! one terminal outcome and a complete node directory.

#[path = "../../engine/tests/bus_support/mod.rs"]
mod bus_support;

mod common;

use bus_support::{Backend, TestBus};
use common::{fast_group_config, file_count, orchestrator, trigger};
use onex_engine::bus::ObserveFrom;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

const RUNS: usize = 30;

async fn survive_a_restart(backend: Backend, test: &str) {
    let Some(mut tb) = TestBus::restartable(backend, test).await else {
        return; // the support module said why (or failed under ONEX_REQUIRE_BROKERS=1)
    };
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    fast_group_config(state.path());
    let _orch = orchestrator(state.path(), &tb.cfg.url, &tb.cfg.topic_prefix, &out, false);
    let mut ids = BTreeSet::new();
    for i in 0..RUNS {
        let t = trigger("StockWriter", i, &out);
        ids.insert(t.correlation_id);
        tb.bus.publish(&t).await.unwrap();
    }
    let terminals: Vec<String> = ["PipelineCompleted", "PipelineFailed"]
        .iter()
        .map(|t| tb.bus.topic(t).unwrap())
        .collect();
    // Restart once a few runs are done, so others are mid-flight.
    let mut obs = tb
        .bus
        .observe(&terminals, ObserveFrom::Beginning)
        .await
        .unwrap();
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while done < 3 {
        assert!(
            Instant::now() < deadline,
            "no run finished before the restart"
        );
        if obs
            .next(Duration::from_millis(500))
            .await
            .unwrap()
            .is_some()
        {
            done += 1;
        }
    }
    drop(obs);
    tb.restart().await;

    let mut seen: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while seen.len() < RUNS {
        assert!(
            Instant::now() < deadline,
            "only {} of {RUNS} runs ended after the restart",
            seen.len()
        );
        let mut obs = match tb.bus.observe(&terminals, ObserveFrom::Beginning).await {
            Ok(o) => o,
            Err(_) => {
                tb.bus = tb.reconnect().await;
                continue;
            }
        };
        while let Ok(Some(o)) = obs.next(Duration::from_secs(2)).await {
            let e = o.envelope;
            if ids.contains(&e.correlation_id) {
                assert_eq!(e.event_type, "PipelineCompleted", "{}", e.payload);
                seen.entry(e.correlation_id).or_default().insert(e.event_id);
            }
        }
    }
    let twice: Vec<_> = seen.values().filter(|s| s.len() != 1).collect();
    assert!(twice.is_empty(), "a run ended twice: {twice:?}");
    let dirs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), RUNS, "{dirs:?}");
    for d in dirs {
        assert_eq!(file_count(&d), 12, "{} complete", d.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_run_loses_nothing() {
    survive_a_restart(Backend::Redis, "e2e_redis_restart").await;
}

// Known regression (docs/RELIABILITY.md "Known limits"): since runs are claimed atomically, every
// claim, heartbeat and terminal record reads the Kafka runs topic to its end under one lock; on
// Tansu with S3 storage (the only durable storage a restart test can use) that serialises the
// orchestrator so far that no run ends within the test's budget. Run it with `--ignored`.
#[ignore = "Kafka run-state claims are too slow on S3-backed Tansu (docs/RELIABILITY.md)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_restart_mid_run_loses_nothing() {
    survive_a_restart(Backend::Kafka, "e2e_kafka_restart").await;
}
