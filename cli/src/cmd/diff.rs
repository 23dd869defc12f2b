//! `onex diff OLD NEW`: what changing a workflow from OLD to NEW does — a structural diff and a
//! compatibility verdict for the workflow's event consumers (docs/contracts.md "Changing a live
//! workflow"). With `--against-runs`, the runs in flight on the bus: which stage each is in and
//! whether NEW could take it over.
//! Exit codes: 0 (or 1 with `--breaking` when a change is breaking), 2 when a file is no
//! workflow that validates, 4 when the bus cannot be reached.

use super::busctl;
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use onex_engine::bus::Role;
use onex_engine::contract::diff::{self, Compat, InFlight, WorkflowDiff};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
}

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  onex diff old/contract.yaml nodes/node_quality_check_orchestrator/v1_0_0/contract.yaml\n  onex diff OLD NEW --breaking --format github\n  onex diff OLD NEW --against-runs --bus redis://127.0.0.1:6379"
)]
pub struct DiffArgs {
    /// The version running now (a contract file).
    pub old: PathBuf,
    /// The version to change to.
    pub new: PathBuf,
    /// Exit 1 when a change is breaking.
    #[arg(long)]
    pub breaking: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also list the runs in flight (from the bus) and whether NEW could take each over.
    #[arg(long)]
    pub against_runs: bool,
    /// The bus for `--against-runs` (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    pub bus: Option<String>,
}

fn split_at(at: &str) -> (String, String, String) {
    let mut it = at.rsplitn(3, ':');
    let col = it.next().unwrap_or("1").to_owned();
    let line = it.next().unwrap_or("1").to_owned();
    let file = it.next().unwrap_or("").to_owned();
    (file, line, col)
}

fn print(d: &WorkflowDiff, runs: Option<&[InFlight]>, format: Format) {
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "old": d.old, "new": d.new, "changes": d.changes,
                "breaking": d.breaking(),
                "verdict": if d.breaking() { "breaking" } else { "compatible" },
                "runs_in_flight": runs,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Github => {
            for c in &d.changes {
                let (file, line, col) = split_at(&c.at);
                let level = match c.compat {
                    Compat::Breaking => "error",
                    Compat::Compatible => "notice",
                };
                // Workflow commands end at the line: keep the message on one.
                println!(
                    "::{level} file={file},line={line},col={col},title={}::{}",
                    c.kind,
                    c.message.replace('\n', " ")
                );
            }
            for r in runs.into_iter().flatten().filter(|r| !r.can_take_over) {
                println!(
                    "::warning title=run in flight::run {}: {}",
                    r.correlation_id, r.reason
                );
            }
        }
        Format::Text => {
            println!("workflow {} → {}", d.old, d.new);
            if d.changes.is_empty() {
                println!("  no structural change");
            }
            for c in &d.changes {
                let tag = match c.compat {
                    Compat::Breaking => "BREAKING  ",
                    Compat::Compatible => "compatible",
                };
                println!("  {tag} {:<17} {}  ({})", c.kind, c.message, c.at);
            }
            if let Some(runs) = runs {
                println!("\nruns in flight: {}", runs.len());
                for r in runs {
                    println!(
                        "  {} in {} (last {}): {} — {}",
                        r.correlation_id,
                        r.stage,
                        r.last_event,
                        if r.can_take_over {
                            "can take over"
                        } else {
                            "CANNOT take over"
                        },
                        r.reason
                    );
                }
            }
            println!(
                "\nverdict: {} ({} breaking, {} compatible change{})",
                if d.breaking() {
                    "BREAKING"
                } else {
                    "compatible"
                },
                d.count(Compat::Breaking),
                d.count(Compat::Compatible),
                if d.count(Compat::Compatible) == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
    }
}

pub async fn run(args: &DiffArgs, app: &App) -> CliResult {
    let old = app.load_workflow(&args.old)?;
    let new = app.load_workflow(&args.new)?;
    let d = diff::diff(&old, &new);
    let runs = if args.against_runs {
        let events = match onex_engine::workflow::WorkflowSet::new(vec![old.clone()]) {
            Ok(s) => s.events().clone(),
            Err(d) => {
                crate::print_diagnostics(&d);
                return Err(CliError::reported(Kind::Usage));
            }
        };
        let cfg = busctl::bus_config(&app.config, args.bus.as_deref());
        let bus = busctl::connect(&cfg, Role::Cli, events, Duration::from_secs(10)).await?;
        let topics = busctl::run_topics(bus.as_ref());
        match busctl::read_all(bus.as_ref(), &topics, Duration::from_millis(500)).await {
            Ok(evs) => Some(diff::in_flight(&evs, &old.id.name, &new)),
            Err(e) => {
                return Err(CliError::unreachable(format!(
                    "onex diff: reading the bus: {e}"
                )));
            }
        }
    } else {
        None
    };
    print(&d, runs.as_deref(), args.format);
    if args.breaking && d.breaking() {
        // The diff above names each breaking change.
        Err(CliError::reported(Kind::Failed))
    } else {
        Ok(())
    }
}
