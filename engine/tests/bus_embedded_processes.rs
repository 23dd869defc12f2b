//! The embedded bus shared by several processes (as `onex generate` and `onex orchestrator` are):
//! children are this test binary re-run on an `#[ignore]`d helper test, killed with SIGKILL.
//! A publish acknowledged before the kill is never lost; a message held by a killed group member
//! is redelivered to a member in another process; two processes publishing at once lose nothing.

mod bus_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bus_support::*;
use onex_engine::bus::{BusConfig, ObserveFrom, Role, connect};
use uuid::Uuid;

const DIR: &str = "ONEX_BUS_CHILD_DIR";
const PREFIX: &str = "ONEX_BUS_CHILD_PREFIX";

fn child_cfg() -> Option<BusConfig> {
    let dir = std::env::var(DIR).ok()?;
    let mut cfg = BusConfig::with_url(format!("embedded:{dir}"));
    cfg.topic_prefix = std::env::var(PREFIX).ok()?;
    cfg.lease_ms = 1000;
    Some(cfg)
}

fn spawn_child(test: &str, dir: &std::path::Path, prefix: &str, extra: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(DIR, dir)
    .env(PREFIX, prefix)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// Lines `TAG <uuid>` from the child's stdout until `want` of them or the deadline.
fn read_ids(child: &mut Child, tag: &str, want: usize) -> Vec<Uuid> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let tag = tag.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            // libtest may print `test NAME ... ` before the first line of output on the same line.
            let marker = format!("{tag} ");
            if let Some(id) = line
                .find(&marker)
                .and_then(|i| Uuid::parse_str(line[i + marker.len()..].trim()).ok())
            {
                // Keep draining after the reader is gone: a closed pipe would fail the child.
                let _ = tx.send(id);
            }
        }
    });
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
    }
    ids
}

#[tokio::test]
#[ignore = "child process of the tests below"]
async fn child_publisher() {
    let Some(cfg) = child_cfg() else { return };
    let bus = connect(&cfg, Role::Cli, events())
        .await
        .expect("child connect");
    let limit: u64 = std::env::var("ONEX_BUS_CHILD_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let run = Uuid::now_v7();
    let mut seq = 0;
    while seq < limit {
        seq += 1;
        let e = progress(run, seq, 1);
        bus.publish(&e).await.expect("child publish");
        // Printed only after the publish was acknowledged.
        println!("ACK {}", e.event_id);
    }
}

#[tokio::test]
#[ignore = "child process of the tests below"]
async fn child_member() {
    let Some(cfg) = child_cfg() else { return };
    let bus = connect(&cfg, Role::Service, events())
        .await
        .expect("child connect");
    let topics = vec![bus.topic("PromptSubmitted").expect("topic")];
    let mut c = bus
        .subscribe("orchestrators", &topics)
        .await
        .expect("subscribe");
    let d = c
        .next(Duration::from_secs(30))
        .await
        .expect("next")
        .expect("delivery");
    println!("GOT {}", d.envelope.event_id);
    // Hold it without acking until killed.
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn acked_publishes_survive_a_killed_publisher() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t{}.", Uuid::now_v7().simple());
    let mut child = spawn_child("child_publisher", dir.path(), &prefix, &[]);
    let acked = read_ids(&mut child, "ACK", 300);
    child.kill().expect("SIGKILL the publisher");
    let _ = child.wait();
    assert!(acked.len() >= 300, "publisher acked only {}", acked.len());
    let mut cfg = BusConfig::with_url(format!("embedded:{}", dir.path().display()));
    cfg.topic_prefix = prefix;
    let bus = connect(&cfg, Role::Service, events()).await.unwrap();
    let topics = vec![bus.topic("GenerationProgress").unwrap()];
    let mut obs = bus.observe(&topics, ObserveFrom::Beginning).await.unwrap();
    let mut seen = HashSet::new();
    while let Some(o) = obs.next(Duration::from_millis(500)).await.unwrap() {
        seen.insert(o.envelope.event_id);
    }
    let lost: Vec<_> = acked.iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} acked publishes lost: {lost:?}",
        lost.len()
    );
}

#[tokio::test]
async fn message_of_a_killed_member_goes_to_a_member_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t{}.", Uuid::now_v7().simple());
    let mut cfg = BusConfig::with_url(format!("embedded:{}", dir.path().display()));
    cfg.topic_prefix = prefix.clone();
    cfg.lease_ms = 1000;
    let bus = connect(&cfg, Role::Service, events()).await.unwrap();
    let env = prompt(Uuid::now_v7());
    bus.publish(&env).await.unwrap();
    let mut child = spawn_child("child_member", dir.path(), &prefix, &[]);
    let got = read_ids(&mut child, "GOT", 1);
    assert_eq!(
        got,
        vec![env.event_id],
        "the child member did not receive the message"
    );
    child.kill().expect("SIGKILL the member");
    let _ = child.wait();
    let topics = vec![bus.topic("PromptSubmitted").unwrap()];
    let mut c = bus.subscribe("orchestrators", &topics).await.unwrap();
    let d = c
        .next(Duration::from_secs(20))
        .await
        .unwrap()
        .expect("not redelivered after the member was killed");
    assert_eq!(d.envelope.event_id, env.event_id);
    assert_eq!(d.attempt, 2);
    c.ack(&d).await.unwrap();
}

#[tokio::test]
async fn two_processes_publish_concurrently_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t{}.", Uuid::now_v7().simple());
    let n = 400;
    let mut a = spawn_child(
        "child_publisher",
        dir.path(),
        &prefix,
        &[("ONEX_BUS_CHILD_COUNT", "400")],
    );
    let mut b = spawn_child(
        "child_publisher",
        dir.path(),
        &prefix,
        &[("ONEX_BUS_CHILD_COUNT", "400")],
    );
    let (ia, ib) = (read_ids(&mut a, "ACK", n), read_ids(&mut b, "ACK", n));
    assert!(a.wait().expect("wait").success() && b.wait().expect("wait").success());
    assert_eq!((ia.len(), ib.len()), (n, n));
    let mut cfg = BusConfig::with_url(format!("embedded:{}", dir.path().display()));
    cfg.topic_prefix = prefix;
    let bus = connect(&cfg, Role::Service, events()).await.unwrap();
    let topics = vec![bus.topic("GenerationProgress").unwrap()];
    let mut c = bus.subscribe("readers", &topics).await.unwrap();
    let got = drain(&mut c, 2 * n + 1, Duration::from_millis(500))
        .await
        .unwrap();
    let unique: HashSet<Uuid> = got.iter().copied().collect();
    assert_eq!(got.len(), 2 * n, "each message exactly once");
    assert_eq!(unique, ia.into_iter().chain(ib).collect::<HashSet<_>>());
}
