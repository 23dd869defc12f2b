//! Bus failures are typed and clear: unreachable back ends (CLI exit code 4), bad URLs,
//! invalid envelopes on publish, retention of the embedded log.

mod bus_support;

use std::time::{Duration, Instant};

use bus_support::*;
use onex_engine::bus::{BusConfig, BusError, ObserveFrom, Role, connect};
use uuid::Uuid;

#[tokio::test]
async fn redis_unreachable_is_typed() {
    let cfg = BusConfig::with_url(format!("redis://127.0.0.1:{}", free_port()));
    let t = Instant::now();
    match connect(&cfg, Role::Cli, events()).await {
        Err(e @ BusError::Unreachable { .. }) => {
            assert!(e.is_unreachable());
            assert!(e.to_string().contains("redis"), "{e}");
        }
        Err(e) => panic!("expected Unreachable, got {e:?}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn kafka_unreachable_is_typed() {
    let mut cfg = BusConfig::with_url(format!("kafka://127.0.0.1:{}", free_port()));
    cfg.timeout_ms = 1500;
    let t = Instant::now();
    match connect(&cfg, Role::Cli, events()).await {
        Err(e) => {
            assert!(e.is_unreachable(), "expected unreachable, got {e:?}");
            assert!(e.to_string().contains("127.0.0.1"), "{e}");
        }
        Ok(_) => panic!("connected to a closed port"),
    }
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn embedded_unwritable_path_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    // A directory cannot be created below a regular file.
    let cfg = BusConfig::with_url(format!("embedded:{}/sub", file.display()));
    match connect(&cfg, Role::Cli, events()).await {
        Err(e @ BusError::Unreachable { .. }) => assert!(e.to_string().contains("a-file"), "{e}"),
        Err(e) => panic!("expected Unreachable, got {e:?}"),
        Ok(_) => panic!("opened a log below a file"),
    }
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    for url in ["amqp://x:1", "kafka://", "kafka://nohostport"] {
        match connect(&BusConfig::with_url(url), Role::Cli, events()).await {
            Err(BusError::Config(m)) => assert!(
                m.contains(url.trim_end_matches('/')) || m.contains("bus.url"),
                "{m}"
            ),
            Err(e) => panic!("{url}: expected Config, got {e:?}"),
            Ok(_) => panic!("{url}: accepted"),
        }
    }
}

#[tokio::test]
async fn invalid_envelope_is_refused_on_publish_unless_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = BusConfig::with_url(format!("embedded:{}", dir.path().display()));
    let bus = connect(&cfg, Role::Cli, events()).await.unwrap();
    let mut env = prompt(Uuid::now_v7());
    env.payload = serde_json::json!({"prompt_text": 1});
    match bus.publish(&env).await {
        Err(BusError::Invalid { event_type, detail }) => {
            assert_eq!(event_type, "PromptSubmitted");
            assert!(detail.contains("/payload/prompt_text"), "{detail}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut unknown = prompt(Uuid::now_v7());
    unknown.event_type = "NoSuchEvent".into();
    assert!(matches!(
        bus.publish(&unknown).await,
        Err(BusError::Invalid { .. })
    ));
    let mut seq0 = prompt(Uuid::now_v7());
    seq0.seq = 0;
    let mut bad_time = prompt(Uuid::now_v7());
    bad_time.timestamp = "yesterday-ish".into();
    for (e, pointer) in [(&seq0, "/seq"), (&bad_time, "/timestamp")] {
        match bus.publish(e).await {
            Err(BusError::Invalid { detail, .. }) => assert!(detail.contains(pointer), "{detail}"),
            other => panic!("expected Invalid at {pointer}, got {other:?}"),
        }
    }
    // Publish-side validation off: the messages go out, and the consumer dead-letters them.
    cfg.validate_on_publish = false;
    let bus = connect(&cfg, Role::Cli, events()).await.unwrap();
    for e in [&env, &seq0, &bad_time] {
        bus.publish(e).await.unwrap();
    }
    let topics = vec![bus.topic("PromptSubmitted").unwrap()];
    let mut c = bus.subscribe("g", &topics).await.unwrap();
    assert!(c.next(Duration::from_millis(500)).await.unwrap().is_none());
    assert_eq!(c.dead_lettered(), 3);
}

#[tokio::test]
async fn embedded_retention_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = BusConfig::with_url(format!("embedded:{}", dir.path().display()));
    cfg.retention.max_messages = Some(10);
    let bus = connect(&cfg, Role::Service, events()).await.unwrap();
    let run = Uuid::now_v7();
    // Retention runs every 256 publishes of a process: the 512th publish leaves the last 10.
    for seq in 1..=512 {
        bus.publish(&progress(run, seq, 1)).await.unwrap();
    }
    let topics = vec![bus.topic("GenerationProgress").unwrap()];
    let mut obs = bus.observe(&topics, ObserveFrom::Beginning).await.unwrap();
    let mut seqs = Vec::new();
    while let Some(o) = obs.next(Duration::from_millis(300)).await.unwrap() {
        seqs.push(o.envelope.seq);
    }
    assert_eq!(seqs, (503..=512).collect::<Vec<u64>>());
}
