//! `onex generate` in bus mode (NodeCLIAdapterEffect): observe the run's topics, publish
//! PromptSubmitted, show the run's events ordered by seq, and print the result rebuilt from
//! them. With the embedded bus and no orchestrator alive, run one in this process (still
//! through the bus), or with `--detach` start a background `onex orchestrator
//! --exit-when-idle`.

use super::busctl;
use super::generate::{GenerateArgs, load_pipeline, prompt_options, run_direct, services};
use crate::progress::{Display, Style};
use onex_engine::bus::Role;
use onex_engine::config::{CliMode, Config};
use onex_engine::events::Component;
use onex_engine::pipeline::RunRequest;
use onex_engine::pipeline::run::event_source;
use onex_engine::service::{OrchestratorOptions, presence};
use onex_handlers::cli_adapter::{CliAdapter, Followed, Progress};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code: the CLI stopped waiting (the run goes on).
const EXIT_WAIT_TIMEOUT: u8 = 3;

pub async fn run(args: &GenerateArgs, config: &Config) -> ExitCode {
    let contract = match load_pipeline(args.contract.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let bus_cfg = busctl::bus_config(config, args.bus.as_deref());
    let wait = match config.cli.mode {
        CliMode::Auto => Duration::from_millis(config.cli.auto_fallback_ms),
        _ => Duration::from_secs(10),
    };
    let bus = match busctl::connect(&bus_cfg, Role::Cli, wait).await {
        Ok(b) => b,
        Err(code)
            if config.cli.mode == CliMode::Auto
                && code == ExitCode::from(busctl::EXIT_UNREACHABLE) =>
        {
            eprintln!("onex: warning: bus unreachable; cli.mode = auto falls back to direct mode");
            return run_direct(args, config).await;
        }
        Err(code) => return code,
    };
    let opts = match prompt_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("onex generate: {e}");
            return ExitCode::from(2);
        }
    };
    let trigger = RunRequest::prompt_submitted(&opts, event_source(Component::Cli));
    let cid = trigger.correlation_id;

    // Run an orchestrator ourselves when the embedded bus has none.
    let local = busctl::embedded_presence_dir(&bus_cfg).filter(|d| !presence::any_alive(d));
    if args.detach {
        if local.is_some()
            && let Err(e) = spawn_background_orchestrator(args, &bus_cfg.url)
        {
            eprintln!("onex generate: cannot start a background orchestrator: {e}");
            return ExitCode::from(2);
        }
        let adapter = CliAdapter::new(bus.clone(), Vec::new());
        let took = match adapter.publish(&trigger).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("onex generate: publishing PromptSubmitted: {e}");
                return ExitCode::from(if e.is_unreachable() {
                    busctl::EXIT_UNREACHABLE
                } else {
                    1
                });
            }
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({"correlation_id": cid, "status": "submitted",
                                   "publish_ms": took.as_secs_f64() * 1000.0})
            );
        } else {
            println!("{cid}");
        }
        return ExitCode::SUCCESS;
    }

    let adapter = CliAdapter::new(
        bus.clone(),
        contract.stages.iter().map(|s| s.id.clone()).collect(),
    );
    let unreachable_or = |e: &onex_engine::bus::BusError| {
        ExitCode::from(if e.is_unreachable() {
            busctl::EXIT_UNREACHABLE
        } else {
            1
        })
    };
    let mut observer = match adapter.subscribe().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("onex generate: observing the run's topics: {e}");
            return unreachable_or(&e);
        }
    };
    match adapter.publish(&trigger).await {
        Ok(took) => tracing::debug!(?took, "PromptSubmitted published"),
        Err(e) => {
            eprintln!("onex generate: publishing PromptSubmitted: {e}");
            return unreachable_or(&e);
        }
    }
    let local_run = local.map(|_| {
        let orch = busctl::orchestrator(
            bus.clone(),
            contract,
            services(config, args.templates.clone(), args.keep_failed),
            OrchestratorOptions::default(),
        );
        let trigger = trigger.clone();
        tokio::spawn(async move { orch.handle(trigger).await })
    });

    let display = Display::new(if args.json { Style::Json } else { Style::Text });
    let run_timeout = config.run.timeout_s.unwrap_or(300);
    let deadline = Instant::now()
        + Duration::from_secs(
            args.timeout
                .unwrap_or(run_timeout + config.run.wait_grace_s),
        );
    let follow = adapter.follow(&mut observer, cid, deadline, |p| match p {
        Progress::Event(e) => display.event(e),
        Progress::Gap { from, to } => {
            eprintln!("onex generate: events seq {from}..{to} did not arrive; showing what came")
        }
    });
    let followed = tokio::select! {
        f = follow => f,
        // With an in-process orchestrator the run stops with us; its staging is cleaned up as
        // the process unwinds. Otherwise the run goes on elsewhere.
        _ = tokio::signal::ctrl_c() => {
            if local_run.is_none() {
                eprintln!("onex generate: stopped following; the run goes on. correlation id {cid}");
                eprintln!("  follow it with: onex status {cid}");
            } else {
                eprintln!("onex generate: interrupted; run {cid} is on the bus, an orchestrator will finish it (onex status {cid})");
            }
            return ExitCode::from(130);
        }
    };
    if let Some(handle) = local_run {
        // The terminal event is out (or we gave up); let the local run finish recording.
        let _ = handle.await;
    }
    match followed {
        Ok(Followed::Finished(r)) => {
            display.result(&r);
            if r.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Ok(Followed::TimedOut) => {
            eprintln!("onex generate: stopped waiting; the run goes on. correlation id {cid}");
            eprintln!("  follow it with: onex status {cid}");
            ExitCode::from(EXIT_WAIT_TIMEOUT)
        }
        Err(e) => {
            eprintln!("onex generate: following the run: {e}");
            unreachable_or(&e)
        }
    }
}

/// Starts `onex orchestrator --exit-when-idle` detached from this process, so a `--detach`
/// run finishes after the CLI returns.
fn spawn_background_orchestrator(args: &GenerateArgs, bus_url: &str) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["orchestrator", "--exit-when-idle", "10", "--bus", bus_url]);
    // It writes where this CLI asked to write.
    cmd.arg("--allowed-root").arg(
        super::generate::output_directory(args.output.as_deref()).map_err(std::io::Error::other)?,
    );
    if let Some(c) = &args.contract {
        cmd.arg("--contract").arg(c);
    }
    if let Some(t) = &args.templates {
        cmd.arg("--templates").arg(t);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    cmd.spawn().map(|_| ())
}
