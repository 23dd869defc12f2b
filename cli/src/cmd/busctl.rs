//! Bus plumbing shared by the commands: connecting from configuration and flags, reading a
//! run's events back, and the in-process orchestrator of the embedded bus.

use onex_engine::bus::{self, BusConfig, BusUrl, EventBus, ObserveFrom, Role};
use onex_engine::config::Config;
use onex_engine::events::{Component, Envelope, EventRegistry};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{Executor, Services};
use onex_engine::service::{Orchestrator, OrchestratorOptions};
use onex_engine::workflow::WorkflowSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use crate::error::CliError;

/// `--bus URL`: an empty value is a mistake (an unset variable in a script), never "the
/// default" — the configured bus is what omitting the flag gives.
pub fn parse_bus_url(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(
            "the bus URL is empty: give embedded[:DIR], kafka://host:port or \
                    redis://host:port, or omit --bus for the configured one (onex config)"
                .into(),
        );
    }
    Ok(s.to_owned())
}

/// A listen address given as `host:port`; host names are resolved (`localhost:9464`), the
/// first IPv4 address preferred.
pub fn parse_listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<std::net::SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("{e} (give host:port, e.g. 127.0.0.1:9464 or localhost:9464)"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

/// The bus settings: configuration, with `--bus` on top.
pub fn bus_config(config: &Config, url: Option<&str>) -> BusConfig {
    let mut cfg = BusConfig::from_section(&config.bus);
    if let Some(u) = url {
        cfg.url = u.to_owned();
    }
    cfg
}

/// Connects; an unreachable bus is [`crate::error::Kind::Unreachable`], a bad setting
/// [`crate::error::Kind::Usage`].
pub async fn connect(
    cfg: &BusConfig,
    role: Role,
    events: Arc<EventRegistry>,
    wait: Duration,
) -> Result<Arc<dyn EventBus>, CliError> {
    match tokio::time::timeout(wait, bus::connect(cfg, role, events)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) if e.is_unreachable() => Err(CliError::unreachable(format!(
            "onex: bus unreachable ({}): {e}",
            cfg.url
        ))),
        Ok(Err(e)) => Err(CliError::usage(format!("onex: bus: {e}"))),
        Err(_) => Err(CliError::unreachable(format!(
            "onex: bus unreachable ({}): no answer within {wait:?}",
            cfg.url
        ))),
    }
}

/// The topics a run's events travel on (everything but the dead letters).
pub fn run_topics(bus: &dyn EventBus) -> Vec<String> {
    bus.events().run_topics(&bus.config().topic_prefix)
}

/// Every retained event on `topics`, read from the beginning until nothing new arrives for
/// `quiet` (the log has no "end" marker common to all back ends).
pub async fn read_all(
    bus: &dyn EventBus,
    topics: &[String],
    quiet: Duration,
) -> Result<Vec<Envelope>, String> {
    let mut obs = bus
        .observe(topics, ObserveFrom::Beginning)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    // The first fetch of a group-less Kafka reader includes partition assignment and offset
    // lookups: give it time before "nothing new" can mean "nothing there".
    let mut wait = quiet.max(Duration::from_secs(3));
    while let Some(o) = obs.next(wait).await.map_err(|e| e.to_string())? {
        out.push(o.envelope);
        wait = quiet;
    }
    Ok(out)
}

/// The events of one run.
pub async fn read_run(bus: &dyn EventBus, id: Uuid) -> Result<Vec<Envelope>, String> {
    let topics = run_topics(bus);
    Ok(read_all(bus, &topics, Duration::from_millis(500))
        .await?
        .into_iter()
        .filter(|e| e.correlation_id == id)
        .collect())
}

/// The presence directory of an embedded bus, if this is one.
pub fn embedded_presence_dir(cfg: &BusConfig) -> Option<PathBuf> {
    match cfg.backend_url().ok()? {
        BusUrl::Embedded(db) => Some(onex_engine::service::presence::dir_for(&db)),
        _ => None,
    }
}

/// An orchestrator for this process (the `orchestrator` command and the CLI's in-process one).
pub fn orchestrator(
    bus: Arc<dyn EventBus>,
    app: &crate::app::App,
    workflows: Arc<WorkflowSet>,
    services: Services,
    opts: OrchestratorOptions,
) -> Arc<Orchestrator> {
    let executor = Executor::new(
        Arc::new(app.handlers.clone()),
        Arc::new(services),
        workflows.events().clone(),
        event_source(Component::Orchestrator),
    );
    Orchestrator::new(bus, Arc::new(executor), workflows, opts)
}
