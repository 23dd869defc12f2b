//! `onex completions SHELL` and `onex man`: shell completion scripts (clap_complete) and a
//! roff man page (clap_mangen), generated from the same clap definition as the parser.

use crate::error::{CliError, CliResult, Kind};

#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {}

/// Writes `bytes` to standard output; a closed pipe ends quietly.
fn emit(bytes: &[u8]) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(CliError::reported(Kind::PipeClosed))
        }
        Err(e) => Err(CliError::failed(format!(
            "onex: cannot write to standard output: {e}"
        ))),
    }
}

pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> CliResult {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "onex", &mut buf);
    emit(&buf)
}

pub fn man(cmd: clap::Command) -> CliResult {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| CliError::failed(format!("onex man: {e}")))?;
    emit(&buf)
}
