//! `onex orchestrator`: the long-running workflow service on the bus, hosting one or more
//! workflows (each trigger type routed to its workflow).

use super::busctl;
use crate::app::App;
use crate::error::{CliError, CliResult};
use onex_engine::bus::Role;
use onex_engine::config::Config;
use onex_engine::service::{OrchestratorOptions, presence::Presence};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct OrchestratorArgs {
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
    /// Consumer group; orchestrators of one group share the work.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Runs at once.
    #[arg(long, value_name = "RUNS")]
    pub concurrency: Option<usize>,
    /// Serve Prometheus metrics (`/metrics`), liveness (`/healthz`) and readiness (`/readyz`)
    /// here (`127.0.0.1:9464`, `localhost:9464`).
    #[arg(long, value_name = "HOST:PORT", value_parser = crate::cmd::busctl::parse_listen_addr)]
    pub metrics_addr: Option<SocketAddr>,
    /// Where runs may write (repeatable; default: the working directory).
    #[arg(long = "allowed-root", value_name = "DIR")]
    pub allowed_roots: Vec<PathBuf>,
    /// Exit after this many seconds without work.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "10")]
    pub exit_when_idle: Option<u64>,
    /// A workflow contract, or a directory of them, to host (repeatable; default:
    /// `orchestrator.workflows`, else the shipped node generation and node quality check).
    #[arg(long = "workflow", value_name = "FILE|DIR")]
    pub workflows: Vec<PathBuf>,
    /// One workflow contract to host (the same as `--workflow FILE`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub contract: Option<PathBuf>,
    /// A template pack directory instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Do not watch the workflow files: reload only on SIGHUP.
    #[arg(long)]
    pub no_watch: bool,
}

pub async fn run(args: &OrchestratorArgs, app: &App) -> CliResult {
    let config = &app.config;
    let mut paths = args.workflows.clone();
    paths.extend(args.contract.clone());
    let workflows = Arc::new(app.load_workflows(&paths)?);
    let bus_cfg = busctl::bus_config(config, args.bus.as_deref());
    let bus = busctl::connect(
        &bus_cfg,
        Role::Service,
        workflows.events().clone(),
        Duration::from_secs(30),
    )
    .await?;
    let mut svc = app.services(args.templates.clone(), false)?;
    svc.allowed_roots = if !args.allowed_roots.is_empty() {
        args.allowed_roots.clone()
    } else if !config.orchestrator.allowed_roots.is_empty() {
        config.orchestrator.allowed_roots.clone()
    } else {
        vec![std::env::current_dir().map_err(|e| {
            CliError::usage(format!(
                "onex orchestrator: cannot read the working directory: {e}"
            ))
        })?]
    };
    let opts = OrchestratorOptions {
        group: args
            .group
            .clone()
            .unwrap_or_else(|| config.orchestrator.group.clone()),
        concurrency: args
            .concurrency
            .unwrap_or(config.orchestrator.concurrency)
            .max(1),
        exit_when_idle: args.exit_when_idle.map(Duration::from_secs),
        ..Default::default()
    };
    let orch = busctl::orchestrator(bus.clone(), app, workflows.clone(), svc, opts);
    // On the embedded bus, say we are here (the CLI then leaves the work to us).
    let _presence = match busctl::embedded_presence_dir(&bus_cfg) {
        Some(dir) => Some(Presence::register(&dir, orch.instance()).map_err(|e| {
            CliError::usage(format!(
                "onex orchestrator: cannot register in {}: {e}",
                dir.display()
            ))
        })?),
        None => None,
    };
    if let Some(addr) = args.metrics_addr {
        match crate::metrics::serve(addr, bus.clone(), orch.ready()).await {
            Ok(bound) => eprintln!(
                "onex orchestrator: metrics on http://{bound}/metrics (/healthz, /readyz)"
            ),
            Err(e) => {
                return Err(CliError::usage(format!(
                    "onex orchestrator: metrics on {addr}: {e}"
                )));
            }
        }
    }
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        // What happens next, so that a wait is not taken for a hang.
        eprintln!(
            "onex orchestrator: shutting down: taking no new runs; waiting for the runs in \
             flight to finish, then leaving the consumer group"
        );
        on_signal.cancel();
    });
    eprintln!(
        "onex orchestrator {} on {} (group {}), hosting {}",
        orch.instance(),
        bus_cfg.url,
        orch_group(args, config),
        workflows
            .workflows()
            .iter()
            .map(|w| format!("{} ({})", w.id, w.contract.triggers.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    );
    tokio::spawn(super::reload::watch(
        orch.clone(),
        workflows
            .workflows()
            .iter()
            .map(|w| w.path().to_path_buf())
            .collect(),
        app.handlers.clone(),
        !args.no_watch,
    ));
    let mut ready = orch.ready();
    tokio::spawn(async move {
        if ready.wait_for(|r| *r).await.is_ok() {
            eprintln!("onex orchestrator: ready");
        }
    });
    match orch.run(shutdown).await {
        Ok(stats) => {
            eprintln!(
                "onex orchestrator: stopped ({} runs, {} succeeded, {} re-published, {} retried)",
                stats.ran, stats.succeeded, stats.republished, stats.retried
            );
            Ok(())
        }
        Err(e) if e.is_unreachable() => {
            Err(CliError::unreachable(format!("onex orchestrator: {e}")))
        }
        Err(e) => Err(CliError::failed(format!("onex orchestrator: {e}"))),
    }
}

fn orch_group(args: &OrchestratorArgs, config: &Config) -> String {
    args.group
        .clone()
        .unwrap_or_else(|| config.orchestrator.group.clone())
}
