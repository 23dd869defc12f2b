//! `onex handlers`: every registered handler — the engine's built-ins and those of the workflow
//! packages this binary links — with its use, its doc line, its outputs and its parameters.

use crate::app::App;
use crate::error::{CliError, CliResult};
use crate::outln;
use onex_engine::contract::executable::Outputs;

#[derive(Debug, Clone, clap::Args)]
pub struct HandlersArgs {
    /// Only this handler.
    pub name: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &HandlersArgs, app: &App) -> CliResult {
    let entries: Vec<_> = app
        .handlers
        .entries()
        .filter(|e| args.name.as_deref().is_none_or(|n| n == e.name))
        .collect();
    if entries.is_empty() {
        let names: Vec<&str> = app.handlers.entries().map(|e| e.name).collect();
        let hint = args
            .name
            .as_deref()
            .and_then(|n| onex_engine::diag::did_you_mean(n, names.iter().copied()))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(CliError::usage(format!(
            "onex handlers: no handler '{}'{hint}",
            args.name.as_deref().unwrap_or_default()
        )));
    }
    for e in entries {
        let kinds: Vec<&str> = [("stage", e.info.stage), ("gate", e.info.gate)]
            .into_iter()
            .filter_map(|(k, on)| on.then_some(k))
            .collect();
        let outputs = match e.info.outputs {
            Outputs::Fixed(keys) => keys.join(", "),
            Outputs::StageId => "<stage id>".to_string(),
        };
        if args.json {
            let params: Vec<_> = e
                .info
                .params
                .iter()
                .map(|p| serde_json::json!({"name": p.name, "required": p.required, "doc": p.doc}))
                .collect();
            outln!(
                "{}",
                serde_json::json!({"name": e.name, "use": kinds, "doc": e.info.doc,
                                   "outputs": outputs, "params": params,
                                   "failure_codes": e.info.failure_codes})
            )?;
            continue;
        }
        outln!("{} ({})", e.name, kinds.join(", "))?;
        outln!("    {}", e.info.doc)?;
        if e.info.stage && !outputs.is_empty() {
            outln!("    outputs: {outputs}")?;
        }
        for p in e.info.params {
            outln!(
                "    params.{}{}: {}",
                p.name,
                if p.required { " (required)" } else { "" },
                p.doc
            )?;
        }
    }
    Ok(())
}
