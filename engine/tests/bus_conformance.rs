//! Conformance suite of the event bus: the same tests for every back end (a macro instantiates
//! them per back end). Brokers come from `scripts/brokers.sh start` (variables in the
//! environment or in its env file); a missing broker skips its tests with a message, or fails
//! them when ONEX_REQUIRE_BROKERS=1. Every test uses its own topic prefix. No test sleeps to
//! wait for an event: reads wait with a deadline.

mod bus_support;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use bus_support::*;
use onex_engine::bus::order::{Ordered, RunOrderer};
use onex_engine::bus::{BusError, NackOutcome, ObserveFrom};
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(30);

async fn round_trip(backend: Backend) {
    let Some(t) = TestBus::new(backend, "round_trip").await else {
        return;
    };
    let topic = t.bus.topic("GenerationProgress").unwrap();
    let topics = vec![topic.clone()];
    let mut obs = t.bus.observe(&topics, ObserveFrom::End).await.unwrap();
    let mut c = t.bus.subscribe("g", &topics).await.unwrap();
    assert!(
        c.wait_ready(LONG).await.unwrap(),
        "consumer never joined its group"
    );
    let run = Uuid::now_v7();
    let env = progress(run, 2, 1);
    let pos = t.bus.publish(&env).await.unwrap();
    assert_eq!(pos.topic, topic);
    let d = c.next(LONG).await.unwrap().expect("no delivery");
    assert_eq!(d.envelope, env);
    assert_eq!(d.position, pos);
    assert_eq!(d.key.as_deref(), Some(run.to_string().as_str()));
    assert_eq!(d.attempt, 1);
    c.ack(&d).await.unwrap();
    let o = obs.next(LONG).await.unwrap().expect("observer saw nothing");
    assert_eq!(o.envelope, env);
    assert_eq!(o.position, pos);
    // Acked: not delivered again to the group.
    assert!(c.next(Duration::from_millis(300)).await.unwrap().is_none());
    assert!(t.bus.health().await.is_ok());
    c.close().await.unwrap();
}

async fn order_within_partition(backend: Backend) {
    let Some(t) = TestBus::new(backend, "order_within_partition").await else {
        return;
    };
    let topics = vec![t.bus.topic("GenerationProgress").unwrap()];
    let run = Uuid::now_v7();
    for seq in 1..=60 {
        t.bus.publish(&progress(run, seq, 1)).await.unwrap();
    }
    let mut obs = t
        .bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + LONG;
    while seen.len() < 60 && Instant::now() < deadline {
        if let Some(o) = obs.next(Duration::from_secs(1)).await.unwrap() {
            seen.push(o.envelope.seq);
        }
    }
    assert_eq!(
        seen,
        (1..=60).collect::<Vec<u64>>(),
        "one key's events out of order"
    );
}

async fn group_splits_work(backend: Backend) {
    let Some(t) = TestBus::new(backend, "group_splits_work").await else {
        return;
    };
    let topics = vec![t.bus.topic("PromptSubmitted").unwrap()];
    let mut c1 = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    let mut c2 = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    wait_both_ready(&mut c1, &mut c2).await;
    let n = 40;
    let mut sent = HashSet::new();
    for _ in 0..n {
        let e = prompt(Uuid::now_v7());
        sent.insert(e.event_id);
        t.bus.publish(&e).await.unwrap();
    }
    // Handling takes a moment (5 ms here, a whole pipeline run in production), so neither
    // member can take everything before the other asks.
    let work = Duration::from_millis(5);
    let (a, b) = tokio::join!(
        drain_slowly(&mut c1, n, Duration::from_secs(3), work),
        drain_slowly(&mut c2, n, Duration::from_secs(3), work)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let all: Vec<Uuid> = a.iter().chain(b.iter()).copied().collect();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(unique, sent, "the group lost messages");
    assert_eq!(
        all.len(),
        n,
        "duplicates in steady state: {} deliveries for {n} messages",
        all.len()
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "work not shared: {} / {}",
        a.len(),
        b.len()
    );
    c1.close().await.unwrap();
    c2.close().await.unwrap();
}

async fn redelivers_after_member_dies(backend: Backend) {
    let Some(t) = TestBus::new(backend, "redelivers_after_member_dies").await else {
        return;
    };
    let topics = vec![t.bus.topic("PromptSubmitted").unwrap()];
    let mut c1 = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    assert!(c1.wait_ready(LONG).await.unwrap());
    let env = prompt(Uuid::now_v7());
    t.bus.publish(&env).await.unwrap();
    let d = c1.next(LONG).await.unwrap().expect("first delivery");
    assert_eq!(d.envelope.event_id, env.event_id);
    let mut c2 = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    // Steady state first: both are members (Kafka: the rebalance with c2 is over). A member
    // joining at the very moment another leaves is a different case (Tansu may then leave the
    // joiner unassigned, see docs/bus.md).
    wait_both_ready(&mut c1, &mut c2).await;
    // c1 dies holding the message: no ack, no close.
    drop(c1);
    let started = Instant::now();
    let d2 = c2
        .next(LONG)
        .await
        .unwrap()
        .expect("message not redelivered after its holder died");
    assert_eq!(d2.envelope.event_id, env.event_id);
    if backend != Backend::Kafka {
        assert!(
            d2.attempt >= 2,
            "redelivery must count the attempt, got {}",
            d2.attempt
        );
    }
    eprintln!("{backend:?}: redelivered after {:?}", started.elapsed());
    c2.ack(&d2).await.unwrap();
    assert!(c2.next(Duration::from_millis(500)).await.unwrap().is_none());
    c2.close().await.unwrap();
}

async fn replay_from_beginning(backend: Backend) {
    let Some(t) = TestBus::new(backend, "replay_from_beginning").await else {
        return;
    };
    let topics = vec![t.bus.topic("GenerationProgress").unwrap()];
    let run = Uuid::now_v7();
    let events: Vec<_> = (1..=10).map(|s| progress(run, s, 1)).collect();
    for e in &events {
        t.bus.publish(e).await.unwrap();
    }
    let mut c = t.bus.subscribe("workers", &topics).await.unwrap();
    assert!(c.wait_ready(LONG).await.unwrap());
    let got = drain(&mut c, 10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 10);
    c.close().await.unwrap();
    // Consumed and acked by a group, still replayable by an observer and by a new group.
    let mut obs = t
        .bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < 10 {
        match obs.next(LONG).await.unwrap() {
            Some(o) => replayed.push(o.envelope),
            None => break,
        }
    }
    assert_eq!(replayed, events);
    let mut fresh = t.bus.subscribe("auditors", &topics).await.unwrap();
    assert!(fresh.wait_ready(LONG).await.unwrap());
    let again = drain(&mut fresh, 10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        again.len(),
        10,
        "a new group starts at the oldest retained message"
    );
    fresh.close().await.unwrap();
}

async fn poison_goes_to_dlq(backend: Backend) {
    let Some(t) = TestBus::new(backend, "poison_goes_to_dlq").await else {
        return;
    };
    let topic = t.bus.topic("PromptSubmitted").unwrap();
    let topics = vec![topic.clone()];
    let mut dlq = t
        .bus
        .observe(&[t.bus.dlq_topic()], ObserveFrom::End)
        .await
        .unwrap();
    let mut c = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    assert!(c.wait_ready(LONG).await.unwrap());
    let run = Uuid::now_v7();
    let key = run.to_string();
    t.bus
        .publish_raw(&topic, &key, b"\xff\xfe not json")
        .await
        .unwrap();
    let mut future_major = serde_json::to_value(prompt(run)).unwrap();
    future_major["schema_version"] = "2.0.0".into();
    t.bus
        .publish_raw(&topic, &key, &serde_json::to_vec(&future_major).unwrap())
        .await
        .unwrap();
    let mut bad_payload = serde_json::to_value(prompt(run)).unwrap();
    bad_payload["payload"] = serde_json::json!({"prompt_text": 42});
    t.bus
        .publish_raw(&topic, &key, &serde_json::to_vec(&bad_payload).unwrap())
        .await
        .unwrap();
    let good = prompt(run);
    t.bus.publish(&good).await.unwrap();
    let d = c
        .next(LONG)
        .await
        .unwrap()
        .expect("consumption must go on after poison");
    assert_eq!(d.envelope.event_id, good.event_id);
    c.ack(&d).await.unwrap();
    assert_eq!(c.dead_lettered(), 3);
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let Some(o) = dlq.next(LONG).await.unwrap() else {
            break;
        };
        let e = o.envelope;
        assert_eq!(e.event_type, "DeadLettered");
        assert_eq!(e.seq, 0);
        assert_eq!(e.stage, "pipeline");
        assert_eq!(
            e.correlation_id, run,
            "dead letter keeps the correlation id (from the key)"
        );
        assert_eq!(e.payload["original_topic"], topic.as_str());
        assert!(
            e.payload["error_message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        kinds.push(e.payload["error_kind"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(kinds, ["decode", "schema_version", "schema"]);
    c.close().await.unwrap();
}

async fn nack_retries_then_dead_letters(backend: Backend) {
    let Some(t) = TestBus::new(backend, "nack_retries_then_dead_letters").await else {
        return;
    };
    let topics = vec![t.bus.topic("PromptSubmitted").unwrap()];
    let mut dlq = t
        .bus
        .observe(&[t.bus.dlq_topic()], ObserveFrom::End)
        .await
        .unwrap();
    let mut c = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    assert!(c.wait_ready(LONG).await.unwrap());
    let env = prompt(Uuid::now_v7());
    t.bus.publish(&env).await.unwrap();
    let mut last = Instant::now();
    let mut waits = Vec::new();
    for attempt in 1..=3u32 {
        let d = c.next(LONG).await.unwrap().expect("delivery");
        if attempt > 1 {
            waits.push(last.elapsed());
        }
        assert_eq!(d.envelope.event_id, env.event_id);
        assert_eq!(d.attempt, attempt);
        let out = c.nack(&d, "handler infrastructure error").await.unwrap();
        last = Instant::now();
        match attempt {
            3 => assert_eq!(out, NackOutcome::DeadLettered { attempts: 3 }),
            n => assert!(
                matches!(out, NackOutcome::Retry { attempt, .. } if attempt == n + 1),
                "{out:?}"
            ),
        }
    }
    assert!(
        waits[0] >= Duration::from_millis(950) && waits[1] >= Duration::from_millis(1950),
        "waits {waits:?}"
    );
    let o = dlq.next(LONG).await.unwrap().expect("dead letter");
    assert_eq!(o.envelope.payload["error_kind"], "handler");
    assert_eq!(o.envelope.payload["attempts"], 3);
    assert_eq!(o.envelope.causation_id, Some(env.event_id));
    assert!(c.next(Duration::from_millis(300)).await.unwrap().is_none());
    c.close().await.unwrap();
}

async fn too_large_is_refused(backend: Backend) {
    let Some(t) = TestBus::new(backend, "too_large_is_refused").await else {
        return;
    };
    let mut env = prompt(Uuid::now_v7());
    env.payload["prompt_text"] = "x".repeat(1024 * 1024 + 1).into();
    match t.bus.publish(&env).await {
        Err(e @ BusError::TooLarge { size, limit, .. }) => {
            assert_eq!(limit, 1024 * 1024);
            assert!(size > limit);
            let msg = e.to_string();
            assert!(
                msg.contains(&size.to_string()) && msg.contains(&limit.to_string()),
                "{msg}"
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

async fn observe_run_exactly_once_by_seq(backend: Backend) {
    let Some(t) = TestBus::new(backend, "observe_run_exactly_once_by_seq").await else {
        return;
    };
    let topics = t.bus.all_topics();
    let mut obs = t.bus.observe(&topics, ObserveFrom::End).await.unwrap();
    let run = Uuid::now_v7();
    let events = run_events(run);
    // Publish out of order across topics, and one event twice (at-least-once redelivery).
    for e in events.iter().rev() {
        t.bus.publish(e).await.unwrap();
    }
    t.bus.publish(&events[3]).await.unwrap();
    let mut orderer = RunOrderer::new(Duration::from_secs(2));
    let mut released = Vec::new();
    let deadline = Instant::now() + LONG;
    while released.len() < events.len() && Instant::now() < deadline {
        if let Some(o) = obs.next(Duration::from_millis(500)).await.unwrap() {
            for r in orderer.push(o.envelope) {
                match r {
                    Ordered::Event(e) => released.push(e),
                    gap => panic!("unexpected {gap:?}"),
                }
            }
        }
    }
    assert_eq!(released, events, "every event once, in seq order");
    // Nothing else arrives (the duplicate was dropped).
    while let Some(o) = obs.next(Duration::from_millis(300)).await.unwrap() {
        assert!(orderer.push(o.envelope).is_empty());
    }
}

async fn run_state_round_trip(backend: Backend) {
    let Some(t) = TestBus::new(backend, "run_state_round_trip").await else {
        return;
    };
    let id = Uuid::now_v7();
    assert!(t.bus.get_run_state(id).await.unwrap().is_none());
    let mut st = run_state(id, None);
    t.bus.put_run_state(&st).await.unwrap();
    assert_eq!(t.bus.get_run_state(id).await.unwrap(), Some(st.clone()));
    let terminal = completed(id, 38);
    st = run_state(id, Some(terminal.clone()));
    t.bus.put_run_state(&st).await.unwrap();
    let got = t.bus.get_run_state(id).await.unwrap().expect("run state");
    assert_eq!(got.terminal, Some(terminal));
    // Another connection (process) reads the same record.
    let other = t.reconnect().await;
    assert_eq!(other.get_run_state(id).await.unwrap(), Some(st));
}

async fn survives_broker_restart(backend: Backend) {
    let Some(mut t) = TestBus::restartable(backend, "survives_broker_restart").await else {
        return;
    };
    let topics = vec![t.bus.topic("PromptSubmitted").unwrap()];
    let mut c = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    assert!(c.wait_ready(LONG).await.unwrap());
    let mut sent = Vec::new();
    for _ in 0..20 {
        let e = prompt(Uuid::now_v7());
        t.bus.publish(&e).await.unwrap();
        sent.push(e.event_id);
    }
    let mut acked = BTreeSet::new();
    while acked.len() < 10 {
        let d = c
            .next(LONG)
            .await
            .unwrap()
            .expect("delivery before restart");
        c.ack(&d).await.unwrap();
        acked.insert(d.envelope.event_id);
    }
    c.close().await.unwrap();
    // While the broker is down a publish fails with a typed "unreachable" error (CLI exit 4)
    // within the configured timeout: no hang, no panic.
    if t.kill_broker() {
        let started = Instant::now();
        match t.bus.publish(&prompt(Uuid::now_v7())).await {
            Err(e) => assert!(e.is_unreachable(), "expected unreachable, got {e:?}"),
            Ok(p) => panic!("publish succeeded with the broker down: {p}"),
        }
        let limit = Duration::from_millis(t.cfg.timeout_ms) + Duration::from_secs(5);
        assert!(
            started.elapsed() < limit,
            "publish hung for {:?}",
            started.elapsed()
        );
    }
    t.start_broker().await;
    let mut obs = t
        .bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + LONG;
    while seen.len() < 20 && Instant::now() < deadline {
        if let Ok(Some(o)) = obs.next(Duration::from_secs(1)).await {
            seen.insert(o.envelope.event_id);
        }
    }
    assert_eq!(
        seen,
        sent.iter().copied().collect(),
        "published messages lost in the restart"
    );
    let mut c = t.bus.subscribe("orchestrators", &topics).await.unwrap();
    let mut rest = BTreeSet::new();
    let deadline = Instant::now() + LONG;
    while rest.len() < 10 && Instant::now() < deadline {
        if let Ok(Some(d)) = c.next(Duration::from_secs(1)).await {
            c.ack(&d).await.unwrap();
            rest.insert(d.envelope.event_id);
        }
    }
    let expected: BTreeSet<Uuid> = sent
        .iter()
        .copied()
        .filter(|e| !acked.contains(e))
        .collect();
    assert_eq!(
        rest, expected,
        "after the restart the group must get exactly the unacked messages"
    );
    assert!(
        c.next(Duration::from_millis(500)).await.unwrap().is_none(),
        "acked messages came back"
    );
    c.close().await.unwrap();
}

async fn observe_from_position(backend: Backend) {
    let Some(t) = TestBus::new(backend, "observe_from_position").await else {
        return;
    };
    let topics = vec![t.bus.topic("GenerationProgress").unwrap()];
    let run = Uuid::now_v7();
    let mut positions = Vec::new();
    for seq in 1..=5 {
        positions.push(t.bus.publish(&progress(run, seq, 1)).await.unwrap());
    }
    // Same key, same partition: positions are increasing.
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let from = ObserveFrom::Positions(vec![positions[2].clone()]);
    let mut obs = t.bus.observe(&topics, from).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        match obs.next(LONG).await.unwrap() {
            Some(o) => seqs.push(o.envelope.seq),
            None => break,
        }
    }
    assert_eq!(seqs, [3, 4, 5], "observe from a position is inclusive");
    assert!(
        obs.next(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none()
    );
}

/// More events than one read batch, on one of several observed topics (the others stay
/// empty): an observer from the beginning and a live one see every event.
async fn observe_beyond_one_batch(backend: Backend) {
    let Some(t) = TestBus::new(backend, "observe_beyond_one_batch").await else {
        return;
    };
    let topics = vec![
        t.bus.topic("GenerationProgress").unwrap(),
        t.bus.topic("PipelineCompleted").unwrap(),
        t.bus.topic("ParsingStarted").unwrap(),
    ];
    let mut live = t.bus.observe(&topics, ObserveFrom::End).await.unwrap();
    let run = Uuid::now_v7();
    let n = 600u64;
    for seq in 1..=n {
        t.bus.publish(&progress(run, seq, 1)).await.unwrap();
    }
    let mut from_start = t
        .bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .unwrap();
    for (name, obs) in [("live", &mut live), ("from the beginning", &mut from_start)] {
        let mut seen = 0u64;
        let deadline = Instant::now() + LONG;
        while seen < n && Instant::now() < deadline {
            if let Some(o) = obs.next(Duration::from_secs(1)).await.unwrap() {
                seen += 1;
                assert_eq!(o.envelope.seq, seen, "{name}: out of order");
            }
        }
        assert_eq!(seen, n, "{name} observer stopped early");
    }
}

/// A connection opened before the broker restarted keeps publishing after it (Kafka: the
/// idempotent producer may come back fenced and is then rebuilt): a service does not need a
/// restart of its own after the broker's.
async fn publishes_through_a_broker_restart(backend: Backend) {
    let Some(mut t) = TestBus::restartable(backend, "publishes_through_a_broker_restart").await
    else {
        return;
    };
    let before = t.bus.clone();
    before.publish(&prompt(Uuid::now_v7())).await.unwrap();
    t.restart().await;
    let env = prompt(Uuid::now_v7());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failures = Vec::new();
    loop {
        match before.publish(&env).await {
            Ok(_) => break,
            Err(e) => {
                failures.push(e.to_string());
                assert!(
                    Instant::now() < deadline,
                    "the old connection never published again: {failures:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    let topics = vec![t.bus.topic("PromptSubmitted").unwrap()];
    let mut obs = t
        .bus
        .observe(&topics, ObserveFrom::Beginning)
        .await
        .unwrap();
    let deadline = Instant::now() + LONG;
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        if let Some(o) = obs.next(Duration::from_secs(1)).await.unwrap() {
            seen = o.envelope.event_id == env.event_id;
        }
    }
    assert!(
        seen,
        "the message published after the restart is not on the topic"
    );
}

macro_rules! conformance {
    ($($module:ident => $backend:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn round_trip() { super::round_trip($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn order_within_partition() { super::order_within_partition($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn group_splits_work() { super::group_splits_work($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redelivers_after_member_dies() { super::redelivers_after_member_dies($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn replay_from_beginning() { super::replay_from_beginning($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn poison_goes_to_dlq() { super::poison_goes_to_dlq($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nack_retries_then_dead_letters() { super::nack_retries_then_dead_letters($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn too_large_is_refused() { super::too_large_is_refused($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn observe_run_exactly_once_by_seq() { super::observe_run_exactly_once_by_seq($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn run_state_round_trip() { super::run_state_round_trip($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn observe_from_position() { super::observe_from_position($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn observe_beyond_one_batch() { super::observe_beyond_one_batch($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn publishes_through_a_broker_restart() { super::publishes_through_a_broker_restart($backend).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn survives_broker_restart() { super::survives_broker_restart($backend).await }
        }
    )*};
}

conformance! {
    embedded => Backend::Embedded,
    redis => Backend::Redis,
    kafka => Backend::Kafka,
}
