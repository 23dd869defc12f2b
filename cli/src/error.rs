//! The CLI's one error type and its one exit-code mapping. Every command returns
//! [`CliResult`]; `main` prints the message (when one is left to print) and exits with
//! [`CliError::exit_code`]. The table is [`EXIT_CODES`], shown by `onex --help`.

use onex_engine::bus::BusError;
use std::fmt;
use std::process::ExitCode;

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operation ran and failed: a run failed, validation found errors, a bus operation
    /// failed, the run asked about has no events.
    Failed,
    /// Usage, input or configuration error: a bad flag value, an unreadable or invalid file,
    /// a workflow that does not validate.
    Usage,
    /// The CLI stopped waiting for a run's result (the run goes on).
    WaitTimeout,
    /// The bus could not be reached.
    Unreachable,
    /// Interrupted by SIGINT (Ctrl-C).
    Interrupted,
    /// Standard output was closed by its reader (`| head`): the reader has what it wanted.
    PipeClosed,
}

/// `onex --help`'s exit code table (the README has the same).
pub const EXIT_CODES: &str = "Exit codes:
  0    success (also when the reader of the output went away, e.g. `| head`)
  1    the run, validation or bus operation failed
  2    usage, input or configuration error
  3    stopped waiting for the result (the run goes on: `onex status <ID>`)
  4    the bus is unreachable
  130  interrupted (Ctrl-C)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub kind: Kind,
    /// What to print to stderr; `None` when the command already printed it (diagnostics,
    /// a rendered failed run).
    pub message: Option<String>,
}

pub type CliResult = Result<(), CliError>;

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: Some(message.into()),
        }
    }

    /// The problem was already shown.
    pub fn reported(kind: Kind) -> Self {
        CliError {
            kind,
            message: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unreachable, message)
    }

    /// A bus error, with `context` (`onex events: `) in front: unreachable → 4, a message the
    /// bus refuses (too large, invalid, misconfigured) → 2, anything else → 1.
    pub fn bus(context: &str, e: &BusError) -> Self {
        let kind = if e.is_unreachable() {
            Kind::Unreachable
        } else {
            match e {
                BusError::TooLarge { .. } | BusError::Invalid { .. } | BusError::Config(_) => {
                    Kind::Usage
                }
                _ => Kind::Failed,
            }
        };
        Self::new(kind, format!("{context}{e}"))
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::PipeClosed => 0,
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::WaitTimeout => 3,
            Kind::Unreachable => 4,
            Kind::Interrupted => 130,
        }
    }

    /// Prints the message (if any) and gives the process exit code.
    pub fn report(self) -> ExitCode {
        if let Some(m) = &self.message {
            eprintln!("{m}");
        }
        ExitCode::from(self.exit_code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "{:?}", self.kind),
        }
    }
}

/// The exit code of a command's result.
pub fn exit(r: CliResult) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

/// Writes one line to standard output; a closed pipe becomes [`Kind::PipeClosed`] so the
/// command stops quietly (Rust ignores SIGPIPE, so `println!` would panic instead).
pub fn write_line(args: fmt::Arguments<'_>) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(CliError::reported(Kind::PipeClosed))
        }
        Err(e) => Err(CliError::failed(format!(
            "onex: cannot write to standard output: {e}"
        ))),
    }
}

/// `println!` that returns a [`CliResult`] (use with `?`).
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::error::write_line(format_args!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        for (kind, code) in [
            (Kind::Failed, 1),
            (Kind::Usage, 2),
            (Kind::WaitTimeout, 3),
            (Kind::Unreachable, 4),
            (Kind::Interrupted, 130),
            (Kind::PipeClosed, 0),
        ] {
            let e = CliError::reported(kind);
            assert_eq!(e.exit_code(), code, "{kind:?}");
            if code != 0 {
                assert!(
                    EXIT_CODES.contains(&format!("\n  {code:<4} ")),
                    "{code} missing from the table"
                );
            }
        }
    }

    #[test]
    fn bus_errors_map_by_cause() {
        let e = CliError::bus("x: ", &BusError::Config("bad".into()));
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.message.as_deref(), Some("x: bad bus configuration: bad"));
        let e = CliError::bus(
            "",
            &BusError::Unreachable {
                backend: "redis",
                target: "redis://127.0.0.1:1".into(),
                detail: "refused".into(),
            },
        );
        assert_eq!(e.exit_code(), 4);
    }
}
