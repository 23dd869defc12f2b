//! Consumer lag (`EventBus::lag`) on every back end: everything retained counts for a group that
//! never consumed; acknowledging brings it down, one by one, to zero.

mod bus_support;

use bus_support::{Backend, TestBus, prompt};
use onex_engine::bus::EventBus;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Polls `lag` until it equals `want` (Kafka commits acknowledged offsets in batches).
async fn lag_becomes(bus: &dyn EventBus, group: &str, topics: &[String], want: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lag = bus.lag(group, topics).await.expect("lag");
        if lag == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lag stayed {lag}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn lag_counts_what_the_group_has_not_acknowledged(backend: Backend) {
    let Some(tb) = TestBus::new(backend, "lag").await else {
        return;
    };
    let topics = vec![tb.bus.topic("PromptSubmitted").unwrap()];
    for _ in 0..3 {
        tb.bus.publish(&prompt(Uuid::now_v7())).await.unwrap();
    }
    lag_becomes(tb.bus.as_ref(), "lagging", &topics, 3).await;
    let mut c = tb.bus.subscribe("lagging", &topics).await.unwrap();
    c.wait_ready(Duration::from_secs(30)).await.unwrap();
    let d = c
        .next(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("a delivery");
    // Delivered but not acknowledged still counts.
    lag_becomes(tb.bus.as_ref(), "lagging", &topics, 3).await;
    c.ack(&d).await.unwrap();
    lag_becomes(tb.bus.as_ref(), "lagging", &topics, 2).await;
    for _ in 0..2 {
        let d = c
            .next(Duration::from_secs(10))
            .await
            .unwrap()
            .expect("a delivery");
        c.ack(&d).await.unwrap();
    }
    lag_becomes(tb.bus.as_ref(), "lagging", &topics, 0).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_lag() {
    lag_counts_what_the_group_has_not_acknowledged(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lag() {
    lag_counts_what_the_group_has_not_acknowledged(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_lag() {
    lag_counts_what_the_group_has_not_acknowledged(Backend::Kafka).await;
}
