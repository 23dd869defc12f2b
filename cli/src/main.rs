//! `onex`: the command line, a thin clap layer over `onex_engine` (generic commands) and
//! `onex_generation` (`generate`, node generation's front-end over them).

mod app;
mod cmd;
mod error;
mod help;
mod metrics;
#[cfg(feature = "otlp")]
mod otel;
mod progress;

use app::App;
use clap::{CommandFactory, Parser, Subcommand};
use error::{CliError, CliResult, Kind};
use onex_engine::config::Config;
use onex_engine::diag::Diagnostic;
use std::process::ExitCode;
use tracing_subscriber::Layer as _;

#[derive(Debug, Parser)]
#[command(
    name = "onex",
    version,
    about = "Declarative workflow engine driven by ONEX YAML contracts",
    after_help = error::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Export traces to this OTLP/HTTP endpoint (`http://127.0.0.1:4318/v1/traces`). Offered
    /// by builds with `--features otlp` only (hidden otherwise: OTLP pulls an HTTP client in).
    #[arg(long, global = true, value_name = "URL", hide = cfg!(not(feature = "otlp")))]
    otlp_endpoint: Option<String>,
    /// Read the configuration from FILE instead of ./onex.toml or the XDG config file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Log lines on stderr as text or JSON objects (`ONEX_LOG` sets the level).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate an ONEX node from a prompt (the node generation workflow).
    Generate(cmd::generate::GenerateArgs),
    /// Start a run of any workflow: publish its trigger and follow the run.
    Run(cmd::run::RunWorkflowArgs),
    /// Validate ONEX contracts and manifests.
    #[command(after_help = help::VALIDATE)]
    Validate(cmd::validate::ValidateArgs),
    /// Draw a contract's execution graph (Mermaid or DOT).
    #[command(after_help = help::GRAPH)]
    Graph(cmd::graph::GraphArgs),
    /// Print an embedded JSON Schema, or list them.
    #[command(after_help = help::SCHEMA)]
    Schema(cmd::schema::SchemaArgs),
    /// Run the workflow service: consume the hosted workflows' triggers from the bus.
    #[command(after_help = help::ORCHESTRATOR)]
    Orchestrator(cmd::orchestrator::OrchestratorArgs),
    /// List the registered handlers (built-in and of the linked workflow packages).
    Handlers(cmd::handlers::HandlersArgs),
    /// The outcome of a run, from its events.
    #[command(after_help = help::STATUS)]
    Status(cmd::runs::RunArgs),
    /// A run's timeline: each stage and gate with start, duration and outcome.
    #[command(after_help = help::TRACE)]
    Trace(cmd::runs::RunArgs),
    /// Stop a run: one not started never starts; one in flight stops at its next stage
    /// boundary and rolls back.
    #[command(after_help = help::CANCEL)]
    Cancel(cmd::cancel::CancelArgs),
    /// Recent runs with their outcome.
    #[command(after_help = help::RUNS)]
    Runs(cmd::runs::RunsArgs),
    /// Print the effective configuration and where each value comes from.
    Config(cmd::config::ConfigArgs),
    /// What changing a workflow from OLD to NEW does: structural diff and compatibility verdict.
    Diff(cmd::diff::DiffArgs),
    /// Run contract tests (`*.test.yaml`): a trigger, faults, expected events and result.
    Test(cmd::test::TestArgs),
    /// Operate on the bus: tail, publish, replay.
    #[command(subcommand, after_help = help::EVENTS)]
    Events(EventsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = help::COMPLETIONS)]
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page (roff): `onex man | man -l -`.
    Man(cmd::completions::ManArgs),
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
    #[arg(long, value_name = "ID")]
    correlation_id: uuid::Uuid,
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    bus: Option<String>,
    /// NDJSON output.
    #[arg(long)]
    json: bool,
}

/// Prints problems on stderr through the one diagnostic renderer (`onex_engine::diag::render`).
pub fn print_diagnostics(diags: &[Diagnostic]) {
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", onex_engine::diag::render_files(diags, color));
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's usage errors are usage errors; --help/--version are successes.
            return if e.use_stderr() {
                CliError::reported(Kind::Usage).report()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let service = matches!(cli.command, Command::Orchestrator(_));
    let _otel = match init_tracing(cli.otlp_endpoint.as_deref(), cli.log_format, service) {
        Ok(g) => g,
        Err(e) => return CliError::usage(format!("onex: {e}")).report(),
    };
    // Generated from the parser's definition: no configuration needed.
    match &cli.command {
        Command::Completions(a) => {
            return error::exit(cmd::completions::completions(a, Cli::command()));
        }
        Command::Man(_) => return error::exit(cmd::completions::man(Cli::command())),
        _ => {}
    }
    let app = match load_app(cli.config.as_deref()) {
        Ok(a) => a,
        Err(e) => return e.report(),
    };
    error::exit(dispatch(&cli, &app))
}

fn dispatch(cli: &Cli, app: &App) -> CliResult {
    match &cli.command {
        Command::Validate(a) => cmd::validate::run(a, Some(&app.handlers)),
        Command::Graph(a) => cmd::graph::run(a, Some(&app.handlers)),
        Command::Schema(a) => cmd::schema::run(a, app),
        Command::Handlers(a) => cmd::handlers::run(a, app),
        Command::Config(a) => cmd::config::run(a, app),
        Command::Generate(a) => with_runtime(cmd::generate::run(a, app)),
        Command::Run(a) => with_runtime(cmd::run::run(a, app)),
        Command::Orchestrator(a) => with_runtime(cmd::orchestrator::run(a, app)),
        Command::Status(a) => with_runtime(cmd::runs::status(a, app)),
        Command::Trace(a) => with_runtime(cmd::runs::trace(a, app)),
        Command::Runs(a) => with_runtime(cmd::runs::runs(a, app)),
        Command::Diff(a) => with_runtime(cmd::diff::run(a, app)),
        Command::Test(a) => with_runtime(cmd::test::run(a, app)),
        Command::Cancel(a) => with_runtime(cmd::cancel::run(a, app)),
        Command::Events(EventsCommand::Bus(c)) => with_runtime(cmd::events::run(c, app)),
        Command::Completions(_) | Command::Man(_) => Ok(()),
        Command::Events(EventsCommand::Replay(a)) => {
            let args = cmd::runs::RunArgs {
                correlation_id: a.correlation_id,
                bus: a.bus.clone(),
                json: a.json,
            };
            with_runtime(async move { cmd::runs::replay_run(&args, app).await })
        }
    }
}

/// The configuration (`--config FILE`, else working directory, XDG) and the handlers this
/// binary links.
fn load_app(file: Option<&std::path::Path>) -> Result<App, CliError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let file = file
        .map(|f| f.to_path_buf())
        .or_else(|| Config::find_file(&cwd, &env));
    let config = Config::load_file_with(file.as_deref(), &env)
        .map_err(|e| CliError::usage(format!("onex: configuration error: {e}")))?;
    App::new(config).map_err(|e| CliError::usage(format!("onex: {e}")))
}

/// Logs to stderr (`ONEX_LOG`, default warn; info of the service for `onex orchestrator`), as
/// text or JSON; with `--otlp-endpoint`, spans also go to OTLP.
fn init_tracing(
    otlp: Option<&str>,
    format: LogFormat,
    service: bool,
) -> Result<Option<Box<dyn std::any::Any>>, String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // A service logs its runs' starts and ends (info); the other commands only problems.
    let default = if service {
        "warn,onex_engine::service=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal: a log file, a pipe or CI gets no escape codes.
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .boxed(),
    };
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
fn with_runtime<Fut>(f: Fut) -> CliResult
where
    Fut: std::future::Future<Output = CliResult>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("onex: cannot start the async runtime: {e}")))?;
    runtime.block_on(f)
}
