//! `onex config`: the effective configuration — every documented key with its value and where
//! the value came from (default, the file and position, an environment variable, a flag).

use crate::error::CliResult;

use crate::app::App;
use onex_engine::config::{Config, ENGINE_KEYS, Origin};
use onex_generation::request::{CONFIG_ENV, CONFIG_KEYS};

/// Arguments of `onex config`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  onex config\n  onex --config ci.toml config --json\n  \
                        ONEX_BUS=redis://127.0.0.1:6379 onex config"
)]
pub struct ConfigArgs {
    /// One JSON object a line: {"key", "value", "origin"}.
    #[arg(long)]
    pub json: bool,
    /// The bus, as the other commands' `--bus` would set it.
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
}

/// The rows to show: the configuration's keys, the packages' environment overrides and the
/// flags of this command applied.
pub fn rows(args: &ConfigArgs, config: &Config) -> Vec<(String, Option<toml::Value>, Origin)> {
    let mut config = config.clone();
    if let Some(url) = &args.bus {
        config.bus.url = url.clone();
        config.set_origin_flag("bus.url", "--bus");
    }
    let mut rows = config.effective(CONFIG_KEYS);
    for (var, key) in CONFIG_ENV {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty())
            && let Some(row) = rows.iter_mut().find(|r| r.0 == *key)
        {
            *row = (
                key.to_string(),
                Some(toml::Value::String(v)),
                Origin::Env {
                    var: var.to_string(),
                },
            );
        }
    }
    rows
}

/// `(section, name)` of a row's key: free-form tables (`bus.kafka.*`) keep the rest of the key
/// as one (quoted) name.
fn split(key: &str) -> (String, String) {
    for p in ENGINE_KEYS.iter().chain(CONFIG_KEYS) {
        if let Some(prefix) = p.strip_suffix(".*")
            && let Some(rest) = key.strip_prefix(&format!("{prefix}."))
        {
            let name = if rest.contains('.') {
                format!("{rest:?}")
            } else {
                rest.to_string()
            };
            return (prefix.to_string(), name);
        }
    }
    match key.rsplit_once('.') {
        Some((s, n)) => (s.to_string(), n.to_string()),
        None => (String::new(), key.to_string()),
    }
}

/// TOML that would reproduce the configuration, each line commented with its origin; unset
/// keys are commented out.
pub fn render_toml(rows: &[(String, Option<toml::Value>, Origin)], source: Option<&str>) -> String {
    let mut out = format!(
        "# onex configuration (file: {})\n",
        source.unwrap_or("none, defaults")
    );
    let mut section = String::new();
    let lines: Vec<(String, String, String)> = rows
        .iter()
        .map(|(key, value, origin)| {
            let (s, name) = split(key);
            let line = match value {
                Some(v) => format!("{name} = {v}"),
                None => format!("# {name} = (unset)"),
            };
            (s, line, origin.to_string())
        })
        .collect();
    let width = lines.iter().map(|l| l.1.chars().count()).max().unwrap_or(0);
    for (s, line, origin) in lines {
        if s != section {
            out.push_str(&format!("\n[{s}]\n"));
            section = s;
        }
        let pad = width - line.chars().count();
        out.push_str(&format!("{line}{:pad$}  # {origin}\n", ""));
    }
    out
}

pub fn run(args: &ConfigArgs, app: &App) -> CliResult {
    use std::io::Write as _;
    let rows = rows(args, &app.config);
    let text = if args.json {
        rows.iter()
            .map(|(key, value, origin)| {
                let v = serde_json::json!({
                    "key": key,
                    "value": value.as_ref().and_then(|v| serde_json::to_value(v).ok()),
                    "origin": origin,
                });
                format!("{v}\n")
            })
            .collect()
    } else {
        let source = app.config.source.as_ref().map(|p| p.display().to_string());
        render_toml(&rows, source.as_deref())
    };
    // A closed pipe (`onex config | head`) is not an error of ours.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
