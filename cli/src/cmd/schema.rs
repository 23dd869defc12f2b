//! `onex schema [NAME]`: prints one embedded JSON Schema, or lists them.

use std::process::ExitCode;

use onex_engine::contract::schema::{SCHEMAS, find};

/// Arguments of `onex schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Schema name (e.g. `onex-envelope` or `envelope`); none lists them.
    pub name: Option<String>,
}

/// Runs `onex schema`: 0 = printed, 2 = unknown name.
pub fn run(args: &SchemaArgs) -> ExitCode {
    match &args.name {
        None => {
            for s in SCHEMAS {
                let title = serde_json::from_str::<serde_json::Value>(s.text)
                    .ok()
                    .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                println!("{:<24} {title}", s.name);
            }
            ExitCode::SUCCESS
        }
        Some(n) => match find(n) {
            Some(s) => {
                print!("{}", s.text);
                if !s.text.ends_with('\n') {
                    println!();
                }
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "onex schema: error: no schema named `{n}`; run `onex schema` for the list"
                );
                ExitCode::from(2)
            }
        },
    }
}
