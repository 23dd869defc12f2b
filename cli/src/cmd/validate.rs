//! `onex validate [PATH]...`: validates contracts and manifests and prints every finding
//! (engine: `onex_engine::contract::validate`, rendering: `onex_engine::contract::report`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use onex_engine::contract::executable::EngineKnowledge;
use onex_engine::contract::{ValidateOptions, report, validate_paths};

use crate::error::{CliError, CliResult, Kind};

/// Output formats of `onex validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    Sarif,
}

/// Arguments of `onex validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// Contract files or directories (directories are searched for *.yaml / *.yml).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Treat the top-level `version` key (ONEX015) as an error.
    #[arg(long)]
    pub strict: bool,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Plain YAML: no `!include` tag, no `$ref` following.
    #[arg(long)]
    pub no_include: bool,
}

/// Runs `onex validate`. Exit 0 = no error, 1 = errors (or warnings with --deny-warnings),
/// 2 = usage error (no path, missing path).
pub fn run(args: &ValidateArgs, engine: Option<&dyn EngineKnowledge>) -> CliResult {
    let opts = ValidateOptions {
        strict: args.strict,
        include: !args.no_include,
    };
    let rep = validate_paths(&args.paths, &opts, engine)
        .map_err(|e| CliError::usage(format!("onex validate: error: {e}")))?;
    let out = match args.format {
        Format::Text => report::text(
            &rep,
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        ),
        Format::Json => pretty(&report::json(&rep)),
        Format::Github => report::github(&rep),
        Format::Sarif => pretty(&report::sarif(&rep)),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not a validation result: the exit code stays the
    // report's.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    match rep.exit_code(args.deny_warnings) {
        0 => Ok(()),
        _ => Err(CliError::reported(Kind::Failed)),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s =
        serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
