//! `onex generate PROMPT`: submits a prompt and shows the run. `--direct` runs the pipeline in
//! this process through the same engine (the seed's Phase-1 path and fallback).

use crate::progress::{Display, Style};
use onex_engine::config::Config;
use onex_engine::contract::executable::ExecutableContract;
use onex_engine::diag::Diagnostic;
use onex_engine::events::{Component, EventCatalog};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{ChannelSink, Executor, PromptOptions, RunRequest, Services};
use onex_engine::prompt::NodeType;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use uuid::Uuid;

/// Arguments of `onex generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// What to generate: "Create EFFECT node for database writes".
    #[arg(allow_hyphen_values = true)]
    pub prompt: String,
    /// Where the node directory goes (default: the working directory).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Force the node type (EFFECT, COMPUTE, REDUCER, ORCHESTRATOR).
    #[arg(long = "type", value_name = "T", value_parser = parse_node_type)]
    pub node_type: Option<NodeType>,
    /// Replace an existing node directory.
    #[arg(long)]
    pub force: bool,
    /// Skip the compilation stage.
    #[arg(long)]
    pub no_compile: bool,
    /// NDJSON: one event envelope per line as it happens, then `{"result": …}`.
    #[arg(long)]
    pub json: bool,
    /// Run the pipeline in this process instead of through the bus.
    #[arg(long)]
    pub direct: bool,
    /// The run id (default: a new UUID v7).
    #[arg(long, value_name = "UUID")]
    pub correlation_id: Option<Uuid>,
    /// Seconds to wait for the result (default: the run timeout + 10 s).
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// A template pack directory instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Run this pipeline contract instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,
    /// Keep a failed run's staging directory (debugging).
    #[arg(long)]
    pub keep_failed: bool,
    /// The bus: `embedded[:PATH]`, `kafka://host:port`, `redis://host:port` (default: config).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    pub bus: Option<String>,
    /// Publish and return at once with the correlation id.
    #[arg(long, conflicts_with = "direct")]
    pub detach: bool,
}

fn parse_node_type(s: &str) -> Result<NodeType, String> {
    NodeType::parse(s)
        .ok_or_else(|| format!("'{s}' is not EFFECT, COMPUTE, REDUCER or ORCHESTRATOR"))
}

/// Prints contract problems as `path:line:col severity CODE message`.
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

/// The pipeline contract to run: `--contract FILE` or the shipped one.
pub fn load_pipeline(path: Option<&Path>) -> Result<ExecutableContract, ExitCode> {
    let loaded = match path {
        Some(p) => onex_handlers::load_contract(p),
        None => onex_handlers::shipped_contract(),
    };
    loaded.map_err(|diags| {
        eprintln!("onex: the pipeline contract does not validate:");
        print_diagnostics(&diags);
        ExitCode::from(2)
    })
}

/// Handler settings from configuration and flags.
pub fn services(config: &Config, templates: Option<PathBuf>, keep_failed: bool) -> Services {
    Services {
        allowed_roots: Vec::new(),
        templates_dir: templates,
        python: config.python.interpreter.clone(),
        probe_imports: config.gates.get("G4").is_some_and(|m| m == "probe")
            || config.python.interpreter.is_some(),
        fsync: true,
        keep_failed,
        extra: Default::default(),
    }
}

/// `-o DIR` made absolute and normalised (the working directory when absent).
pub fn output_directory(output: Option<&Path>) -> Result<PathBuf, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let p = match output {
        Some(o) if o.is_absolute() => o.to_path_buf(),
        Some(o) => cwd.join(o),
        None => cwd,
    };
    // Lexical normalisation: `a/./b` → `a/b`; `..` is kept for G6 to refuse with its reason.
    Ok(p.components().collect())
}

pub fn prompt_options(args: &GenerateArgs) -> Result<PromptOptions, String> {
    Ok(PromptOptions {
        prompt_text: args.prompt.clone(),
        output_directory: output_directory(args.output.as_deref())?,
        requested_by: std::env::var("USER").unwrap_or_else(|_| "cli_user".into()),
        requested_node_type: args.node_type,
        force: args.force,
        compile: !args.no_compile,
        correlation_id: args.correlation_id.unwrap_or_else(Uuid::now_v7),
        request_metadata: serde_json::json!({"client": "onex-cli", "version": onex_engine::ENGINE_VERSION}),
    })
}

/// Runs the pipeline in this process, showing events as they happen.
pub async fn run_direct(args: &GenerateArgs, config: &Config) -> ExitCode {
    let contract = match load_pipeline(args.contract.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let opts = match prompt_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("onex generate: {e}");
            return ExitCode::from(2);
        }
    };
    let display = Display::new(if args.json { Style::Json } else { Style::Text });
    let trigger = RunRequest::prompt_submitted(&opts, event_source(Component::Cli));
    display.event(&trigger);
    let request = match RunRequest::from_trigger(trigger) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("onex generate: {e}");
            return ExitCode::from(2);
        }
    };
    let executor = Executor::new(
        Arc::new(onex_handlers::Registry),
        Arc::new(services(config, args.templates.clone(), args.keep_failed)),
        EventCatalog::shipped(),
        event_source(Component::Orchestrator),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = ChannelSink(tx);
    let cid = request.trigger.correlation_id;
    // Where the node went, once the writing stage completed (an interrupt after it leaves the
    // complete node; before it, nothing).
    let mut written: Option<String> = None;
    let result = {
        let run = executor.run(&contract, request, &sink);
        tokio::pin!(run);
        loop {
            tokio::select! {
                Some(e) = rx.recv() => {
                    if e.event_type == "WritingCompleted" {
                        written = e.payload["node_directory"].as_str().map(str::to_owned);
                    }
                    display.event(&e)
                }
                r = &mut run => break r,
                _ = tokio::signal::ctrl_c() => {
                    // Leaving this block drops the run: its staging directory is removed on
                    // the way out, so an interrupted run leaves the output as it was.
                    match &written {
                        Some(dir) => eprintln!(
                            "onex generate: interrupted after writing; run {cid} cancelled, {dir} is complete"
                        ),
                        None => eprintln!("onex generate: interrupted; run {cid} cancelled, nothing written"),
                    }
                    break Err(onex_engine::pipeline::SinkError {
                        event_type: String::new(),
                        seq: 0,
                        message: "interrupted".into(),
                    });
                }
            }
        }
    };
    if matches!(&result, Err(e) if e.message == "interrupted") {
        return ExitCode::from(130);
    }
    drop(sink);
    while let Ok(e) = rx.try_recv() {
        display.event(&e);
    }
    match result {
        Ok(r) => {
            display.result(&r);
            if r.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("onex generate: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs `onex generate`: in this process with `--direct` (or `cli.mode = direct`), otherwise
/// through the bus.
pub async fn run(args: &GenerateArgs, config: &Config) -> ExitCode {
    use onex_engine::config::CliMode;
    if args.direct || config.cli.mode == CliMode::Direct {
        return run_direct(args, config).await;
    }
    crate::cmd::submit::run(args, config).await
}
