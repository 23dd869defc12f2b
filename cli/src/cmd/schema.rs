//! `onex schema [NAME]`: prints one embedded JSON Schema, or lists them; `onex schema events
//! [TYPE]` prints the event catalogues of the loaded workflows (each type's topic, stage,
//! statuses and payload schema).

use crate::app::App;
use crate::error::{CliError, CliResult};
use crate::outln;
use onex_engine::contract::schema::{SCHEMAS, find};

/// Arguments of `onex schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Schema name (e.g. `onex-envelope` or `envelope`), or `events`; none lists them.
    pub name: Option<String>,
    /// With `events`: one event type.
    pub event_type: Option<String>,
}

/// `onex schema events [TYPE]`.
fn events(app: &App, only: Option<&str>) -> CliResult {
    let registry = app.events(&[])?;
    let mut shown = 0;
    for c in registry.catalogs() {
        for d in c.events() {
            if only.is_some_and(|t| t != d.event_type) {
                continue;
            }
            shown += 1;
            let v = serde_json::json!({
                "event_type": d.event_type,
                "catalog": c.name(),
                "topic": c.topic(&app.config.bus.topic_prefix, &d.event_type),
                "stage": d.stage.to_string(),
                "statuses": d.statuses,
                "description": d.description,
                "payload_schema": d.payload_schema,
            });
            if only.is_some() {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())?;
            } else {
                outln!(
                    "{:<24} {:<36} {}",
                    d.event_type,
                    v["topic"].as_str().unwrap_or_default(),
                    d.description
                )?;
            }
        }
    }
    if shown == 0 {
        return Err(CliError::usage(format!(
            "onex schema events: no event type '{}' in the loaded catalogues",
            only.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Runs `onex schema`: 0 = printed, 2 = unknown name.
pub fn run(args: &SchemaArgs, app: &App) -> CliResult {
    if args.name.as_deref() == Some("events") {
        return events(app, args.event_type.as_deref());
    }
    match &args.name {
        None => {
            for s in SCHEMAS {
                let title = serde_json::from_str::<serde_json::Value>(s.text)
                    .ok()
                    .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                outln!("{:<24} {title}", s.name)?;
            }
            Ok(())
        }
        Some(n) => match find(n) {
            Some(s) => {
                // `outln!` adds the newline the text may lack.
                outln!("{}", s.text.strip_suffix('\n').unwrap_or(s.text))
            }
            None => Err(CliError::usage(format!(
                "onex schema: error: no schema named `{n}`; run `onex schema` for the list"
            ))),
        },
    }
}
