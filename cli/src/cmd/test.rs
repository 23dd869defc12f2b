//! `onex test [PATH…]`: run contract tests (`*.test.yaml`, docs/contracts.md "Testing a
//! workflow") in-process, each on a private embedded bus, several at once; print a
//! `cargo test`-like summary with a diff per failure, or JSON / JUnit XML.
//! Exit codes: 0 all passed, 1 a test failed or could not run, 2 usage (no test found).

use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use onex_engine::testing::{self, report, runner};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  onex test                                  # every *.test.yaml under tests/contract-tests/ and nodes/\n  onex test tests/contract-tests/node_quality_check\n  onex test --format junit > report.xml"
)]
pub struct TestArgs {
    /// Test files, or directories searched for `*.test.yaml` (default:
    /// tests/contract-tests/ and nodes/ where they exist).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Tests at once (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "COUNT")]
    pub jobs: Option<usize>,
    /// Only tests whose name contains this.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

pub async fn run(args: &TestArgs, app: &App) -> CliResult {
    let paths = if args.paths.is_empty() {
        ["tests/contract-tests", "nodes"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .collect()
    } else {
        args.paths.clone()
    };
    let mut files = match testing::discover(&paths) {
        Ok(f) => f,
        Err(e) => return Err(CliError::usage(format!("onex test: {e}"))),
    };
    if let Some(f) = &args.filter {
        files.retain(|p| p.to_string_lossy().contains(f.as_str()));
    }
    if files.is_empty() {
        return Err(CliError::usage(format!(
            "onex test: no *.test.yaml under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // Tests may name a hosted workflow instead of a file; the hosted set failing to load is
    // only an error for a test that names one.
    let named = match app.workflow_paths(&[]) {
        Ok(ps) => {
            let loaded: Vec<_> = ps
                .iter()
                .filter_map(|p| onex_engine::workflow::Workflow::load(p, &app.handlers).ok())
                .collect();
            onex_engine::workflow::WorkflowSet::new(loaded)
                .ok()
                .map(Arc::new)
        }
        Err(_) => None,
    };
    let services = app.services(None, false)?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let cfg = Arc::new(runner::RunnerConfig {
        handlers: app.handlers.clone(),
        services,
        named,
        jobs,
    });
    let t0 = Instant::now();
    let reports = runner::run_all(files, cfg).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let out = match args.format {
        Format::Text => report::text(&reports, elapsed),
        Format::Json => report::json(&reports, elapsed),
        Format::Junit => report::junit(&reports, elapsed),
    };
    print!("{out}");
    if report::Totals::of(&reports).ok() {
        Ok(())
    } else {
        // The report above says which tests failed and why.
        Err(CliError::reported(Kind::Failed))
    }
}
