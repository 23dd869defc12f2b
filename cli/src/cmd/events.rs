//! `onex events tail|publish`: operators' view of the bus, on every back end (`bus.url`).
//!
//! Exit codes: 0 success; 1 a bus operation failed; 2 usage or input error (unknown event type,
//! unreadable or invalid payload, message too large); 4 bus unreachable.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::{CliError, CliResult};
use crate::outln;
use onex_engine::bus::order::{Ordered, RunOrderer};
use onex_engine::bus::{BusError, EventBus, ObserveFrom, Position, Role, connect};
use onex_engine::events::{
    Component, Envelope, EventRegistry, EventSource, EventStatus, SCHEMA_VERSION, StageScope,
    TraceContext,
};
use uuid::Uuid;

#[derive(Debug, clap::Subcommand)]
pub enum EventsCmd {
    /// Print events as they arrive (every topic of the loaded catalogues unless --topic is given).
    Tail {
        /// The bus (default: configuration, `ONEX_BUS`).
        #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
        bus: Option<String>,
        /// An event type (`PromptSubmitted`), a topic suffix (`prompt_submitted`, `dlq`) or a
        /// full topic name; repeatable.
        #[arg(long)]
        topic: Vec<String>,
        /// Only this run's events, released in seq order.
        #[arg(long, value_name = "ID")]
        correlation_id: Option<Uuid>,
        /// Start at the oldest retained event instead of the end.
        #[arg(long)]
        from_beginning: bool,
        /// One envelope JSON per line.
        #[arg(long)]
        json: bool,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Exit (0) after this many seconds without an event.
        #[arg(long, value_name = "SECONDS")]
        idle_timeout: Option<u64>,
    },
    /// Publish one event built from a payload file.
    Publish {
        /// The bus (default: configuration, `ONEX_BUS`).
        #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
        bus: Option<String>,
        /// Event type of the catalogue (`PromptSubmitted`).
        #[arg(long = "type", value_name = "TYPE")]
        event_type: String,
        /// JSON payload file, `-` for standard input.
        #[arg(long, value_name = "FILE")]
        payload: PathBuf,
        /// Run id (default: a new UUID v7).
        #[arg(long, value_name = "ID")]
        correlation_id: Option<Uuid>,
        /// Position in the run (default 1).
        #[arg(long, default_value_t = 1)]
        seq: u64,
        /// event_id of the run's previous event.
        #[arg(long, value_name = "ID")]
        causation_id: Option<Uuid>,
        /// Stage id (default: the event type's stage when it has exactly one).
        #[arg(long)]
        stage: Option<String>,
        /// started, in_progress, completed, warning or failed (default: the type's first).
        #[arg(long)]
        status: Option<String>,
        /// Print the published envelope and its position as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn fail(e: &BusError) -> CliError {
    CliError::bus("onex events: ", e)
}

fn usage(msg: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("onex events: {msg}"))
}

pub async fn run(cmd: &EventsCmd, app: &App) -> CliResult {
    let events = app.events(&[])?;
    match cmd {
        EventsCmd::Tail {
            bus,
            topic,
            correlation_id,
            from_beginning,
            json,
            count,
            idle_timeout,
        } => {
            let cfg = super::busctl::bus_config(&app.config, bus.as_deref());
            let b = connect(&cfg, Role::Cli, events)
                .await
                .map_err(|e| fail(&e))?;
            let topics = resolve_topics(b.as_ref(), topic).map_err(usage)?;
            let from = if *from_beginning {
                ObserveFrom::Beginning
            } else {
                ObserveFrom::End
            };
            let opts = TailOpts {
                correlation_id: *correlation_id,
                json: *json,
                count: *count,
                idle: idle_timeout.map(Duration::from_secs),
            };
            tokio::select! {
                r = tail(b.as_ref(), &topics, from, &opts) => r,
                // Stopping a tail is how it ends: a success.
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        EventsCmd::Publish {
            bus,
            event_type,
            payload,
            correlation_id,
            seq,
            causation_id,
            stage,
            status,
            json,
        } => {
            let env = build_envelope(
                &events,
                event_type,
                payload,
                *correlation_id,
                *seq,
                *causation_id,
                stage.as_deref(),
                status.as_deref(),
            )
            .map_err(usage)?;
            let cfg = super::busctl::bus_config(&app.config, bus.as_deref());
            let b = connect(&cfg, Role::Cli, events)
                .await
                .map_err(|e| fail(&e))?;
            let pos = b.publish(&env).await.map_err(|e| fail(&e))?;
            if *json {
                let out = serde_json::json!({"position": pos, "envelope": env});
                outln!("{out}")
            } else {
                outln!(
                    "published {} {} (correlation_id {}) at {pos}",
                    env.event_type,
                    env.event_id,
                    env.correlation_id
                )
            }
        }
    }
}

/// `--topic` values to topic names; empty = every catalogue topic.
fn resolve_topics(bus: &dyn EventBus, given: &[String]) -> Result<Vec<String>, String> {
    let all = bus.all_topics();
    if given.is_empty() {
        return Ok(all);
    }
    let prefix = &bus.config().topic_prefix;
    given
        .iter()
        .map(|g| {
            if let Ok(t) = bus.topic(g) {
                return Ok(t);
            }
            if all.contains(g) {
                return Ok(g.clone());
            }
            if let Some(t) = all.iter().find(|t| t.ends_with(&format!(".{g}"))) {
                return Ok(t.clone());
            }
            if *g == "runs" {
                return Ok(EventRegistry::runs_topic(prefix));
            }
            Err(format!(
                "--topic {g}: not an event type, topic suffix or topic of the catalogue"
            ))
        })
        .collect()
}

struct TailOpts {
    correlation_id: Option<Uuid>,
    json: bool,
    count: Option<u64>,
    idle: Option<Duration>,
}

async fn tail(bus: &dyn EventBus, topics: &[String], from: ObserveFrom, o: &TailOpts) -> CliResult {
    let mut obs = bus.observe(topics, from).await.map_err(|e| fail(&e))?;
    let mut orderer = RunOrderer::default();
    let mut printed = 0u64;
    let mut last_event = Instant::now();
    loop {
        if o.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        if o.idle.is_some_and(|i| last_event.elapsed() >= i) {
            return Ok(());
        }
        let got = obs
            .next(Duration::from_millis(250))
            .await
            .map_err(|e| fail(&e))?;
        let mut ready: Vec<Ordered> = Vec::new();
        if let Some(item) = got {
            last_event = Instant::now();
            match o.correlation_id {
                Some(id) if item.envelope.correlation_id != id => continue,
                // One run: released in seq order, duplicates dropped, gaps reported.
                Some(_) => ready.extend(orderer.push(item.envelope.clone())),
                None => {
                    print_event(&item.envelope, Some(&item.position), o.json)?;
                    printed += 1;
                    continue;
                }
            }
        }
        ready.extend(orderer.flush_gaps(Instant::now()));
        for r in ready {
            match r {
                Ordered::Event(e) => {
                    print_event(&e, None, o.json)?;
                    printed += 1;
                }
                Ordered::Gap {
                    correlation_id,
                    from,
                    to,
                } => {
                    eprintln!(
                        "onex events: run {correlation_id}: seq {from}..{} missing after 2 s wait",
                        to - 1
                    );
                }
            }
        }
    }
}

fn print_event(e: &Envelope, position: Option<&Position>, json: bool) -> CliResult {
    if json {
        return match serde_json::to_string(e) {
            Ok(s) => outln!("{s}"),
            Err(err) => {
                eprintln!("onex events: cannot print {}: {err}", e.event_id);
                Ok(())
            }
        };
    }
    let at = position.map(|p| format!("  {p}")).unwrap_or_default();
    outln!(
        "{}  {:>3}  {:<24} {}/{}  {}{at}",
        e.timestamp,
        e.seq,
        e.event_type,
        e.stage,
        status_name(e.status),
        e.correlation_id
    )
}

fn status_name(s: EventStatus) -> &'static str {
    match s {
        EventStatus::Started => "started",
        EventStatus::InProgress => "in_progress",
        EventStatus::Completed => "completed",
        EventStatus::Warning => "warning",
        EventStatus::Failed => "failed",
    }
}

fn parse_status(s: &str) -> Result<EventStatus, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        format!("--status {s}: expected started, in_progress, completed, warning or failed")
    })
}

#[allow(clippy::too_many_arguments)]
fn build_envelope(
    cat: &EventRegistry,
    event_type: &str,
    payload: &PathBuf,
    correlation_id: Option<Uuid>,
    seq: u64,
    causation_id: Option<Uuid>,
    stage: Option<&str>,
    status: Option<&str>,
) -> Result<Envelope, String> {
    let def = cat.get(event_type).ok_or_else(|| {
        let known: Vec<&str> = cat
            .catalogs()
            .iter()
            .flat_map(|c| c.events())
            .map(|d| d.event_type.as_str())
            .collect();
        format!(
            "--type {event_type}: not in the event catalogue (known: {})",
            known.join(", ")
        )
    })?;
    let text = if payload.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("--payload -: cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(payload)
            .map_err(|e| format!("--payload {}: {e}", payload.display()))?
    };
    let payload_value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--payload {}: not JSON: {e}", payload.display()))?;
    let stage = match (stage, &def.stage) {
        (Some(s), _) => s.to_string(),
        (None, StageScope::Pipeline) => "pipeline".to_string(),
        (None, StageScope::Stage(s)) => s.clone(),
        (None, scope) => {
            return Err(format!(
                "--stage is required for {event_type} (allowed: {scope})"
            ));
        }
    };
    let status = match status {
        Some(s) => parse_status(s)?,
        None => *def
            .statuses
            .first()
            .ok_or_else(|| format!("{event_type} has no status in the catalogue"))?,
    };
    Ok(Envelope {
        event_id: Uuid::now_v7(),
        event_type: event_type.to_string(),
        schema_version: SCHEMA_VERSION.to_string(),
        correlation_id: correlation_id.unwrap_or_else(Uuid::now_v7),
        causation_id,
        seq,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage,
        status,
        source: EventSource {
            component: Component::Cli,
            instance_id: format!("cli-{}", std::process::id()),
            version: onex_engine::ENGINE_VERSION.to_string(),
        },
        trace: TraceContext {
            traceparent: format!(
                "00-{}-{}-01",
                Uuid::new_v4().simple(),
                &Uuid::new_v4().simple().to_string()[..16]
            ),
            tracestate: None,
        },
        payload: payload_value,
        workflow: None,
        outcome: None,
    })
}
