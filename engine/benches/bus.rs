//! Event bus benchmarks, one run per available back end (embedded always; Redis and Kafka when
//! `scripts/brokers.sh start` has run). A plain bench binary (harness = false) printing a
//! Markdown table:
//!
//!     scripts/brokers.sh start
//!     CARGO_TARGET_DIR=/var/tmp/onex-target cargo bench -p onex-engine --bench bus
//!
//! Optional: `ONEX_BENCH_N=20000` (messages for the throughput runs), `ONEX_BENCH_ONLY=kafka`.
//! Measured: publish latency on a warm producer (awaiting each ack), publish→consume latency
//! (one message at a time through a consumer group, ack included), publish→observe latency from
//! a second connection (another process's view), publish throughput (64 in flight), consume
//! throughput (drain + ack) with 1 and 2 members in a group, and for Kafka the first publish of a
//! fresh connection with idempotence off (CLI) and on (service).

#[path = "../tests/bus_support/mod.rs"]
mod bus_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bus_support::{Backend, broker_var, events, progress, prompt, test_config};
use onex_engine::bus::{Consumer, EventBus, ObserveFrom, Role, connect};
use uuid::Uuid;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

struct Row {
    backend: &'static str,
    metric: String,
    value: String,
}

async fn drain_all(
    mut c: Consumer,
    stop_at: Arc<std::sync::atomic::AtomicUsize>,
    n: usize,
) -> Consumer {
    use std::sync::atomic::Ordering;
    while stop_at.load(Ordering::Relaxed) < n {
        match c.next(Duration::from_millis(200)).await {
            Ok(Some(d)) => {
                let _ = c.ack(&d).await;
                stop_at.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("consume error: {e}");
                break;
            }
        }
    }
    c
}

async fn bench(backend: Backend, name: &'static str, url: &str, n: usize, rows: &mut Vec<Row>) {
    let mut row = |metric: &str, value: String| {
        println!("{name:<9} {metric:<52} {value}");
        rows.push(Row {
            backend: name,
            metric: metric.to_string(),
            value,
        });
    };
    let cfg = test_config(url, "bench");
    let bus = match connect(&cfg, Role::Service, events()).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skip {name}: {e}");
            return;
        }
    };
    let run = Uuid::now_v7();
    // Warm-up: connections, topic creation, idempotent producer id.
    for s in 0..50 {
        bus.publish(&progress(run, s + 1, 1))
            .await
            .expect("publish");
    }
    let size = serde_json::to_vec(&progress(run, 1, 1))
        .map(|v| v.len())
        .unwrap_or(0);

    // 1. Publish latency, warm producer, one at a time.
    let count = if backend == Backend::Embedded {
        2000
    } else {
        1000
    };
    let mut lat = Vec::with_capacity(count);
    for s in 0..count {
        let e = progress(run, s as u64 + 100, 1);
        let t = Instant::now();
        bus.publish(&e).await.expect("publish");
        lat.push(t.elapsed());
    }
    row(
        &format!("publish latency p50 / p99 (ms, {size} B envelope)"),
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
    );

    // 2. Publish → consume through a group, one at a time.
    let topic = vec![bus.topic("PromptSubmitted").expect("topic")];
    let mut c = bus
        .subscribe("bench-latency", &topic)
        .await
        .expect("subscribe");
    assert!(c.wait_ready(Duration::from_secs(30)).await.expect("ready"));
    let mut lat = Vec::new();
    for _ in 0..300 {
        let e = prompt(Uuid::now_v7());
        let t = Instant::now();
        bus.publish(&e).await.expect("publish");
        loop {
            let d = c
                .next(Duration::from_secs(10))
                .await
                .expect("next")
                .expect("delivery");
            c.ack(&d).await.expect("ack");
            if d.envelope.event_id == e.event_id {
                break;
            }
        }
        lat.push(t.elapsed());
    }
    c.close().await.expect("close");
    row(
        "publish→consume latency p50 / p99 (ms, group, ack)",
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
    );

    // 3. Publish → observe from a second connection (what another process sees).
    let other = connect(&cfg, Role::Service, events())
        .await
        .expect("second connection");
    let obs_topic = vec![bus.topic("ParsingStarted").expect("topic")];
    let mut obs = other
        .observe(&obs_topic, ObserveFrom::End)
        .await
        .expect("observe");
    let mut lat = Vec::new();
    for i in 0..300u64 {
        let mut e = bus_support::envelope(
            run,
            "ParsingStarted",
            2,
            "parsing",
            onex_engine::events::EventStatus::Started,
            serde_json::json!({"prompt_length": i}),
        );
        e.seq = 2;
        let t = Instant::now();
        bus.publish(&e).await.expect("publish");
        loop {
            let o = obs
                .next(Duration::from_secs(10))
                .await
                .expect("observe")
                .expect("event");
            if o.envelope.event_id == e.event_id {
                break;
            }
        }
        lat.push(t.elapsed());
    }
    row(
        "publish→observe latency p50 / p99 (ms, other connection)",
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
    );

    // 3b. The same with the observer idle in between (50 ms gaps), waiting in its own task:
    // the embedded reader of another process has backed off to its longest poll interval.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Uuid, Instant)>();
    let reader = tokio::spawn(async move {
        while let Ok(Some(o)) = obs.next(Duration::from_secs(5)).await {
            if tx.send((o.envelope.event_id, Instant::now())).is_err() {
                break;
            }
        }
    });
    let mut lat = Vec::new();
    for i in 0..100u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let e = bus_support::envelope(
            run,
            "ParsingStarted",
            2,
            "parsing",
            onex_engine::events::EventStatus::Started,
            serde_json::json!({ "prompt_length": i }),
        );
        let t = Instant::now();
        bus.publish(&e).await.expect("publish");
        loop {
            let (id, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("observer too slow")
                .expect("observer ended");
            if id == e.event_id {
                lat.push(at.duration_since(t));
                break;
            }
        }
    }
    reader.abort();
    row(
        "publish→observe latency p50 / p99 (ms, other connection, idle)",
        format!("{} / {}", ms(pct(&mut lat, 0.5)), ms(pct(&mut lat, 0.99))),
    );

    // 4. Publish throughput with 64 publishes in flight.
    let tp_topic = vec![bus.topic("GenerationStarted").expect("topic")];
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let per = n / 64;
    for _ in 0..64 {
        let b: Arc<dyn EventBus> = bus.clone();
        set.spawn(async move {
            for _ in 0..per {
                let e = bus_support::envelope(
                    Uuid::now_v7(),
                    "GenerationStarted",
                    4,
                    "generation",
                    onex_engine::events::EventStatus::Started,
                    serde_json::json!({"node_type": "EFFECT", "node_name": "N", "service_name": "s",
                        "domain": "d", "total_files": 12, "template_pack": "p", "staging_dir": "/tmp/s"}),
                );
                b.publish(&e).await.expect("publish");
            }
        });
    }
    while set.join_next().await.is_some() {}
    let total = per * 64;
    row(
        "publish throughput (events/s, 64 in flight)",
        format!("{:.0}", total as f64 / t.elapsed().as_secs_f64()),
    );

    // 5. Consume throughput (drain + ack of `total` pre-published events), 1 and 2 members.
    for members in [1usize, 2] {
        let group = format!("bench-tp-{members}");
        let mut cs = Vec::new();
        for _ in 0..members {
            cs.push(bus.subscribe(&group, &tp_topic).await.expect("subscribe"));
        }
        // Every member has its share before the clock starts (Kafka rebalance).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut all = true;
            for c in cs.iter_mut() {
                all &= c
                    .wait_ready(Duration::from_millis(200))
                    .await
                    .expect("ready");
            }
            if all || Instant::now() > deadline {
                break;
            }
        }
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for c in cs {
            set.spawn(drain_all(c, done.clone(), total));
        }
        let mut back = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(c) = r {
                back.push(c);
            }
        }
        let el = t.elapsed();
        row(
            &format!("consume throughput, {members} member(s) (events/s, ack each)"),
            format!(
                "{:.0}",
                done.load(std::sync::atomic::Ordering::Relaxed) as f64 / el.as_secs_f64()
            ),
        );
        for c in back {
            let _ = c.close().await;
        }
    }

    // 6. Kafka: first publish of a fresh connection, idempotence off (CLI) vs on (service).
    if backend == Backend::Kafka {
        for (role, label) in [(Role::Cli, "off (CLI)"), (Role::Service, "on (service)")] {
            let mut first = Vec::new();
            let mut warm = Vec::new();
            for _ in 0..10 {
                let b = connect(&cfg, role, events()).await.expect("connect");
                let t = Instant::now();
                b.publish(&progress(run, 1, 1)).await.expect("publish");
                first.push(t.elapsed());
                for _ in 0..100 {
                    let t = Instant::now();
                    b.publish(&progress(run, 1, 1)).await.expect("publish");
                    warm.push(t.elapsed());
                }
            }
            row(
                &format!("idempotence {label}: first publish p50 / warm p50 (ms)"),
                format!("{} / {}", ms(pct(&mut first, 0.5)), ms(pct(&mut warm, 0.5))),
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n: usize = std::env::var("ONEX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let only = std::env::var("ONEX_BENCH_ONLY").ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut targets: Vec<(Backend, &'static str, String)> = vec![(
        Backend::Embedded,
        "embedded",
        format!("embedded:{}", dir.path().display()),
    )];
    match broker_var("ONEX_TEST_REDIS_URL") {
        Some(u) => targets.push((Backend::Redis, "redis", u)),
        None => eprintln!("skip redis: ONEX_TEST_REDIS_URL not set (scripts/brokers.sh start)"),
    }
    match broker_var("ONEX_TEST_KAFKA_URL") {
        Some(u) => targets.push((Backend::Kafka, "kafka", u)),
        None => eprintln!("skip kafka: ONEX_TEST_KAFKA_URL not set (scripts/brokers.sh start)"),
    }
    let mut rows = Vec::new();
    for (b, name, url) in targets {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        rt.block_on(bench(b, name, &url, n, &mut rows));
    }
    println!("\n| back end | metric | value |\n|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.backend, r.metric, r.value);
    }
}
