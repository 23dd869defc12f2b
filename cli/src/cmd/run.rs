//! `onex run WORKFLOW`: start a run of any workflow — publish its trigger event (the payload
//! from `--input KEY=VALUE` or `--payload FILE`) and follow the run with the same live
//! progress, result display and exit codes as `onex generate`.

use super::submit::{self, Submission};
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use crate::progress::Display;
use onex_engine::events::{Component, EventStatus};
use onex_engine::pipeline::RunResult;
use onex_engine::pipeline::run::{event_source, trigger_envelope};
use onex_engine::workflow::Workflow;
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  onex run node_quality_check --input node_directory=generated/infrastructure_postgres_writer_effect\n  onex run my/contract.yaml --input text=@request.txt     # a field's text from a file (@- = stdin)\n  onex run my/contract.yaml --payload request.json --detach"
)]
pub struct RunWorkflowArgs {
    /// A workflow name (of `orchestrator.workflows` or the shipped ones) or a contract file.
    pub workflow: String,
    /// A trigger payload field: `KEY=VALUE` (VALUE parsed as JSON when it is, else text);
    /// `KEY=@FILE` takes the text of FILE (`@-` standard input), for values too long for an
    /// argument.
    #[arg(long = "input", value_name = "KEY=VALUE", conflicts_with = "payload")]
    pub inputs: Vec<String>,
    /// The trigger payload as a JSON file (`-` = standard input).
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// Which of the workflow's triggers to publish (default: the first a client may start).
    #[arg(long, value_name = "EVENT_TYPE")]
    pub trigger: Option<String>,
    /// The run id (default: a new UUID v7).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<Uuid>,
    /// NDJSON: one event envelope per line as it happens, then `{"result": …}`.
    #[arg(long)]
    pub json: bool,
    /// Publish and return at once with the correlation id.
    #[arg(long, conflicts_with = "direct")]
    pub detach: bool,
    /// Run the workflow in this process instead of through the bus.
    #[arg(long)]
    pub direct: bool,
    /// Seconds to wait for the result (default: the run timeout + 10 s).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// The bus: `embedded[:PATH]`, `kafka://host:port`, `redis://host:port` (default: config).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
}

/// The workflow named by `name`: a contract file, or a hosted workflow's name.
fn find_workflow(app: &App, name: &str) -> Result<Workflow, CliError> {
    let path = PathBuf::from(name);
    if path.is_file() {
        return app.load_workflow(&path);
    }
    let set = app.load_workflows(&[])?;
    match set.get(name) {
        Some(w) => Ok((**w).clone()),
        None => {
            let known: Vec<String> = set.workflows().iter().map(|w| w.id.name.clone()).collect();
            let hint = onex_engine::diag::did_you_mean(name, known.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(usage(format!(
                "no workflow '{name}'{hint}; known: {} — or give a contract file",
                known.join(", ")
            )))
        }
    }
}

fn usage(msg: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("onex run: {msg}"))
}

/// The trigger payload from `--input` or `--payload`.
fn payload(args: &RunWorkflowArgs) -> Result<Value, CliError> {
    if let Some(p) = &args.payload {
        let text = if p.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| usage(format!("--payload -: cannot read standard input: {e}")))?;
            s
        } else {
            std::fs::read_to_string(p)
                .map_err(|e| usage(format!("--payload {}: {e}", p.display())))?
        };
        return serde_json::from_str(&text)
            .map_err(|e| usage(format!("--payload {}: not JSON: {e}", p.display())));
    }
    let mut m = Map::new();
    for kv in &args.inputs {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(usage(format!("--input {kv}: expected KEY=VALUE")));
        };
        if k.is_empty() {
            return Err(usage(format!("--input {kv}: the key is empty")));
        }
        let value = match v.strip_prefix('@') {
            Some("-") => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                    usage(format!("--input {k}=@-: cannot read standard input: {e}"))
                })?;
                Value::String(s)
            }
            Some(file) => Value::String(
                std::fs::read_to_string(file)
                    .map_err(|e| usage(format!("--input {k}=@{file}: {e}")))?,
            ),
            None => serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned())),
        };
        m.insert(k.to_owned(), value);
    }
    Ok(Value::Object(m))
}

fn render(display: &Display, r: &RunResult) -> bool {
    display.run_result(r);
    r.success()
}

pub async fn run(args: &RunWorkflowArgs, app: &App) -> CliResult {
    let workflow = find_workflow(app, &args.workflow)?;
    let registry = match onex_engine::workflow::WorkflowSet::new(vec![workflow.clone()]) {
        Ok(s) => s.events().clone(),
        Err(d) => {
            crate::print_diagnostics(&d);
            return Err(CliError::reported(Kind::Usage));
        }
    };
    // A client starts a run with a trigger whose catalogue entry starts something; a trigger
    // that is another run's terminal event is for chaining, not for clients.
    let startable = |t: &str| {
        registry
            .get(t)
            .is_some_and(|d| d.statuses.contains(&EventStatus::Started))
    };
    let trigger_type = match &args.trigger {
        Some(t) if workflow.contract.triggers.contains(t) => t.clone(),
        Some(t) => {
            return Err(usage(format!(
                "--trigger {t}: not a trigger of {} (its triggers: {})",
                workflow.id.name,
                workflow.contract.triggers.join(", ")
            )));
        }
        None => match workflow.contract.triggers.iter().find(|t| startable(t)) {
            Some(t) => t.clone(),
            None => {
                return Err(usage(format!(
                    "{} has no trigger a client can publish ({}); choose one with --trigger",
                    workflow.id.name,
                    workflow.contract.triggers.join(", ")
                )));
            }
        },
    };
    let payload = payload(args)?;
    if let Err(e) = registry.validate_payload(&trigger_type, &payload) {
        return Err(usage(format!(
            "the {trigger_type} payload does not fit the catalogue: {e}"
        )));
    }
    let services = app.services(None, false)?;
    let trigger = trigger_envelope(
        &trigger_type,
        payload,
        args.correlation_id.unwrap_or_else(Uuid::now_v7),
        event_source(Component::Cli),
    );
    let background: Vec<OsString> = vec![
        "--workflow".into(),
        workflow.contract.path.clone().into_os_string(),
    ];
    submit::submit(Submission {
        app,
        command: "onex run",
        workflow,
        trigger,
        services,
        bus: args.bus.clone(),
        direct: args.direct,
        detach: args.detach,
        json: args.json,
        timeout: args.timeout,
        background_args: background,
        render,
    })
    .await
}
