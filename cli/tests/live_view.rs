//! The live view as a person sees it: `onex run` in a pseudo-terminal (expectrl), asserting
//! what is on the screen at moments during the run.

use expectrl::session::OsSession;
use expectrl::{Expect, Regex, Session};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn slow_job() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_job.yaml")
}

/// `onex run` of the slow job (its `wait` stage takes `size` s) in a terminal with `env`.
fn session(state: &Path, env: &[(&str, &str)], size: u32) -> OsSession {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("onex"));
    c.args(["run", "--direct", "--input", "job=live", "--input"])
        .arg(format!("size={size}"))
        .arg(slow_job())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("ONEX_ASCII")
        .env("TERM", "xterm-256color")
        .current_dir(state);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut s = Session::spawn(c).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

fn screen(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_running_stage_shows_its_position_and_elapsed_time_then_its_mark() {
    let state = tempfile::tempdir().unwrap();
    let mut s = session(state.path(), &[("NO_COLOR", "1")], 3);
    // The first stage resolved, with its position.
    s.expect(Regex(r"✓ first \[1/3\] \(\d+ ms\)")).unwrap();
    // While `wait` sleeps: its live line (position, state, elapsed seconds), and it is not
    // marked done yet.
    let running = s.expect(Regex(r"\[2/3\] wait running \d+s")).unwrap();
    assert!(!screen(running.before()).contains("✓ wait"));
    // The total line counts the stages done.
    s.expect(Regex(r"run · 1/3 stages done")).unwrap();
    // Then it resolves, the last stage too, and the total time is shown.
    let done = s.expect(Regex(r"✓ wait \[2/3\] \((\d+) ms\)")).unwrap();
    let ms: u64 = screen(done.matches().nth(1).unwrap()).parse().unwrap();
    assert!(ms >= 3000, "{ms}");
    s.expect(Regex(r"✓ last \[3/3\]")).unwrap();
    let end = s.expect(Regex(r"total \d+\.\d s")).unwrap();
    let all = screen(end.before());
    assert!(all.contains("succeeded in"), "{all}");
    // NO_COLOR: no colour codes (cursor movement is not colour).
    assert!(
        !all.contains("\x1b[32m") && !all.contains("\x1b[31m"),
        "{all:?}"
    );
    s.expect(expectrl::Eof).unwrap();
    let status = format!("{:?}", s.get_process_mut().wait().unwrap());
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 0)"),
        "{status}"
    );
}

#[test]
fn colour_by_default_ascii_on_request_plain_on_a_dumb_terminal() {
    let state = tempfile::tempdir().unwrap();
    // A terminal with colour: the marks are green.
    let mut s = session(state.path(), &[], 0);
    let c = s.expect(Regex(r"total \d+\.\d s")).unwrap();
    assert!(
        screen(c.before()).contains("\x1b[32m✓\x1b[0m first"),
        "{:?}",
        screen(c.before())
    );
    // ONEX_ASCII: ASCII marks and tree, no ✓.
    let mut s = session(state.path(), &[("ONEX_ASCII", "1"), ("NO_COLOR", "1")], 0);
    let a = s.expect(Regex(r"total \d+\.\d s")).unwrap();
    let text = screen(a.before());
    assert!(text.contains("ok first [1/3]"), "{text}");
    assert!(!text.contains('✓') && !text.contains('⠋'), "{text}");
    // TERM=dumb: plain lines (no live tree, no cursor movement), ASCII marks.
    let mut s = session(state.path(), &[("TERM", "dumb")], 1);
    let d = s.expect(Regex(r"total \d+\.\d s")).unwrap();
    let text = screen(d.before());
    assert!(text.contains("ok wait [2/3]"), "{text}");
    assert!(
        !text.contains("running") && !text.contains("\x1b["),
        "{text:?}"
    );
}
