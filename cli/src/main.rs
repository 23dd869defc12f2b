//! `onex`: the command line, a thin clap layer over `onex_engine` (generic commands) and
//! `onex_generation` (`generate`, node generation's front-end over them).

mod app;
mod cmd;
mod metrics;
#[cfg(feature = "otlp")]
mod otel;
mod progress;

use app::App;
use clap::{Parser, Subcommand};
use onex_engine::config::Config;
use onex_engine::diag::Diagnostic;
use std::process::ExitCode;
use tracing_subscriber::Layer as _;

#[derive(Debug, Parser)]
#[command(
    name = "onex",
    version,
    about = "Declarative workflow engine driven by ONEX YAML contracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Export traces to this OTLP/HTTP endpoint (`http://127.0.0.1:4318/v1/traces`); needs a
    /// build with `--features otlp`.
    #[arg(long, global = true, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate an ONEX node from a prompt (the node generation workflow).
    Generate(cmd::generate::GenerateArgs),
    /// Start a run of any workflow: publish its trigger and follow the run.
    Run(cmd::run::RunWorkflowArgs),
    /// Validate ONEX contracts and manifests.
    Validate(cmd::validate::ValidateArgs),
    /// Draw a contract's execution graph (Mermaid or DOT).
    Graph(cmd::graph::GraphArgs),
    /// Print an embedded JSON Schema, or list them.
    Schema(cmd::schema::SchemaArgs),
    /// Run the workflow service: consume the hosted workflows' triggers from the bus.
    Orchestrator(cmd::orchestrator::OrchestratorArgs),
    /// List the registered handlers (built-in and of the linked workflow packages).
    Handlers(cmd::handlers::HandlersArgs),
    /// The outcome of a run, from its events.
    Status(cmd::runs::RunArgs),
    /// A run's timeline: each stage and gate with start, duration and outcome.
    Trace(cmd::runs::RunArgs),
    /// Recent runs with their outcome.
    Runs(cmd::runs::RunsArgs),
    /// What changing a workflow from OLD to NEW does: structural diff and compatibility verdict.
    Diff(cmd::diff::DiffArgs),
    /// Run contract tests (`*.test.yaml`): a trigger, faults, expected events and result.
    Test(cmd::test::TestArgs),
    /// Operate on the bus: tail, publish, replay.
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    #[command(flatten)]
    Bus(cmd::events::EventsCmd),
    /// Show a finished run again, exactly as it looked live, from the log.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The run to replay.
    #[arg(long)]
    correlation_id: uuid::Uuid,
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    bus: Option<String>,
    /// NDJSON output.
    #[arg(long)]
    json: bool,
}

/// Prints problems as `path:line:col severity CODE message` with their help.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!(
            "{}:{}:{} {:?} {} {}\n    help: {}",
            d.path.display(),
            d.pos.line,
            d.pos.column,
            d.severity,
            d.code,
            d.message,
            d.help
        );
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's usage errors exit 2; --help/--version are successes.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let _otel = match init_tracing(cli.otlp_endpoint.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("onex: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match load_app() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match &cli.command {
        Command::Validate(a) => cmd::validate::run(a, Some(&app.handlers)),
        Command::Graph(a) => cmd::graph::run(a, Some(&app.handlers)),
        Command::Schema(a) => cmd::schema::run(a, &app),
        Command::Handlers(a) => cmd::handlers::run(a, &app),
        Command::Generate(a) => with_runtime(cmd::generate::run(a, &app)),
        Command::Run(a) => with_runtime(cmd::run::run(a, &app)),
        Command::Orchestrator(a) => with_runtime(cmd::orchestrator::run(a, &app)),
        Command::Status(a) => with_runtime(cmd::runs::status(a, &app)),
        Command::Trace(a) => with_runtime(cmd::runs::trace(a, &app)),
        Command::Runs(a) => with_runtime(cmd::runs::runs(a, &app)),
        Command::Diff(a) => with_runtime(cmd::diff::run(a, &app)),
        Command::Test(a) => with_runtime(cmd::test::run(a, &app)),
        Command::Events(EventsCommand::Bus(c)) => with_runtime(cmd::events::run(c, &app)),
        Command::Events(EventsCommand::Replay(a)) => {
            let args = cmd::runs::RunArgs {
                correlation_id: a.correlation_id,
                bus: a.bus.clone(),
                json: a.json,
            };
            with_runtime(async move { cmd::runs::replay_run(&args, &app).await })
        }
    }
}

/// The configuration (working directory, XDG) and the handlers this binary links.
fn load_app() -> Result<App, ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let config = Config::load(&cwd).map_err(|e| {
        eprintln!("onex: configuration error: {e}");
        ExitCode::from(2)
    })?;
    App::new(config).map_err(|e| {
        eprintln!("onex: {e}");
        ExitCode::from(2)
    })
}

/// Logs to stderr (`ONEX_LOG`, default warn); with `--otlp-endpoint`, spans also go to OTLP.
fn init_tracing(otlp: Option<&str>) -> Result<Option<Box<dyn std::any::Any>>, String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter));
    match otlp {
        None => {
            registry.init();
            Ok(None)
        }
        #[cfg(feature = "otlp")]
        Some(endpoint) => {
            let (layer, guard) = otel::layer(endpoint)?;
            registry.with(layer).init();
            Ok(Some(Box::new(guard)))
        }
        #[cfg(not(feature = "otlp"))]
        Some(_) => {
            Err("this onex was built without OTLP export (cargo build --features otlp)".into())
        }
    }
}

/// Runs `f` on the one tokio runtime of the process.
fn with_runtime<Fut>(f: Fut) -> ExitCode
where
    Fut: std::future::Future<Output = ExitCode>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("onex: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(f)
}
