//! The CLI as a person meets it: exit codes, prompt input, help, completions, closed pipes,
//! the queued state and cancellation.

mod common;

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

fn onex(state: &Path) -> Command {
    let mut c = Command::cargo_bin("onex").unwrap();
    c.env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("ONEX_BUS")
        .env_remove("ONEX_CLI_MODE")
        .env_remove("ONEX_PYTHON")
        .current_dir(state)
        .timeout(Duration::from_secs(120));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_exit_code_including_130() {
    let state = tempfile::tempdir().unwrap();
    let o = onex(state.path()).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "130"] {
        assert!(out.contains(&format!("\n  {code}")), "{code} missing:\n{out}");
    }
    assert!(out.contains("interrupted"), "{out}");
}
