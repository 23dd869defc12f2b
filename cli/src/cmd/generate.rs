//! `onex generate PROMPT`: node generation's front-end. Submits a prompt and shows the run;
//! `--direct` runs the workflow in this process through the same engine.

use super::submit::{self, Submission};
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use crate::progress::Display;
use onex_engine::events::Component;
use onex_engine::pipeline::RunResult;
use onex_engine::pipeline::run::event_source;
use onex_engine::workflow::Workflow;
use onex_generation::prompt::NodeType;
use onex_generation::{PipelineResult, PromptOptions};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Arguments of `onex generate`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    group(clap::ArgGroup::new("input").required(true).args(["prompt", "prompt_file"])),
    after_help = "Examples:
  onex generate \"Create EFFECT node called OrderWriter that writes orders to PostgreSQL\"
  onex generate --prompt-file prompt.txt -o generated/
  echo \"Create COMPUTE node called PriceCalculator\" | onex generate -
  onex generate --detach --bus redis://127.0.0.1:6379 \"Create REDUCER node called Tally\"
  onex generate -- \"-prefixed prompt\"      # a prompt starting with '-' comes after `--`"
)]
pub struct GenerateArgs {
    /// What to generate: "Create EFFECT node for database writes"; `-` reads it from standard
    /// input. Flags are never taken for the prompt: give one starting with '-' after `--`.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Read the prompt from FILE (`-` = standard input), for prompts too long for an argument.
    #[arg(long, value_name = "FILE", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
    /// Where the node directory goes (default: the working directory).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Force the node type (EFFECT, COMPUTE, REDUCER, ORCHESTRATOR).
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_node_type)]
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
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<Uuid>,
    /// Seconds to wait for the result (default: the run timeout + 10 s).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// A template pack directory instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Run this node generation contract instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,
    /// Keep a failed run's staging directory (debugging).
    #[arg(long)]
    pub keep_failed: bool,
    /// The bus: `embedded[:PATH]`, `kafka://host:port`, `redis://host:port` (default: config).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
    /// Publish and return at once with the correlation id.
    #[arg(long, conflicts_with = "direct")]
    pub detach: bool,
}

fn parse_node_type(s: &str) -> Result<NodeType, String> {
    NodeType::parse(s)
        .ok_or_else(|| format!("'{s}' is not EFFECT, COMPUTE, REDUCER or ORCHESTRATOR"))
}

/// The node generation workflow to run: `--contract FILE` or the shipped one.
pub fn load_workflow(app: &App, path: Option<&Path>) -> Result<Workflow, CliError> {
    match path {
        Some(p) => app.load_workflow(p),
        None => onex_generation::shipped::generation(&app.handlers).map_err(|d| {
            eprintln!("onex: the shipped node generation contract does not validate:");
            crate::print_diagnostics(&d);
            CliError::reported(Kind::Usage)
        }),
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

/// The prompt: the argument, or the text of `--prompt-file` / standard input (`-`), without
/// the trailing newline a file or `echo` adds.
pub fn prompt_text(args: &GenerateArgs) -> Result<String, String> {
    let from = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) if p != "-" => return Ok(p.clone()),
        (Some(_), _) => None,
        (None, Some(f)) if f.as_os_str() != "-" => Some(f),
        (None, Some(_)) => None,
        (None, None) => return Err("no prompt: give PROMPT, `-` or --prompt-file FILE".into()),
    };
    let text = match from {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| format!("--prompt-file {}: {e}", f.display()))?
        }
        None => {
            use std::io::{IsTerminal, Read};
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "onex generate: reading the prompt from standard input (end with Ctrl-D)"
                );
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the prompt from standard input: {e}"))?;
            s
        }
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

pub fn prompt_options(args: &GenerateArgs) -> Result<PromptOptions, String> {
    Ok(PromptOptions {
        prompt_text: prompt_text(args)?,
        output_directory: output_directory(args.output.as_deref())?,
        requested_by: std::env::var("USER").unwrap_or_else(|_| "cli_user".into()),
        requested_node_type: args.node_type,
        force: args.force,
        compile: !args.no_compile,
        correlation_id: args.correlation_id.unwrap_or_else(Uuid::now_v7),
        request_metadata: serde_json::json!({"client": "onex-cli", "version": onex_engine::ENGINE_VERSION}),
    })
}

/// `onex generate` as a submission of the node generation workflow.
fn submission<'a>(
    args: &GenerateArgs,
    app: &'a App,
    direct: bool,
) -> Result<Submission<'a>, CliError> {
    let workflow = load_workflow(app, args.contract.as_deref())?;
    let services = app.services(args.templates.clone(), args.keep_failed)?;
    let opts = prompt_options(args).map_err(|e| CliError::usage(format!("onex generate: {e}")))?;
    // A background orchestrator writes where this CLI asked to write, with the same contract
    // and templates.
    let mut background: Vec<OsString> = vec![
        "--allowed-root".into(),
        opts.output_directory.clone().into(),
    ];
    if let Some(c) = &args.contract {
        background.extend(["--workflow".into(), c.clone().into_os_string()]);
    }
    if let Some(t) = &args.templates {
        background.extend(["--templates".into(), t.clone().into_os_string()]);
    }
    Ok(Submission {
        app,
        command: "onex generate",
        trigger: opts.trigger(event_source(Component::Cli)),
        workflow,
        services,
        bus: args.bus.clone(),
        direct,
        detach: args.detach,
        json: args.json,
        timeout: args.timeout,
        background_args: background,
        render: render_generation,
    })
}

/// Shows a generation result (the node generation view of the run).
fn render_generation(display: &Display, r: &RunResult) -> bool {
    let r = PipelineResult::from(r);
    display.generation_result(&r);
    r.success()
}

/// Runs `onex generate`: in this process with `--direct` (or `cli.mode = direct`), otherwise
/// through the bus.
pub async fn run(args: &GenerateArgs, app: &App) -> CliResult {
    submit::submit(submission(args, app, args.direct)?).await
}
