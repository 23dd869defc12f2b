//! Configuration from the command line: `onex config` shows each value with its origin,
//! `--config FILE` replaces the file lookup, a misspelt key or an unusable value is an error
//! with its position, an empty `--bus` is an error, `--metrics-addr` takes a host name.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

/// `onex` in `dir`, with no configuration or bus of this machine leaking in.
fn onex(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("onex").unwrap();
    c.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("ONEX_BUS")
        .env_remove("ONEX_TOPIC_PREFIX")
        .env_remove("ONEX_CLI_MODE")
        .env_remove("ONEX_RUN_TIMEOUT")
        .env_remove("ONEX_PYTHON");
    c
}

#[test]
fn config_prints_every_value_with_its_origin() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("onex.toml"),
        "[bus]\ntopic_prefix = \"t.\"\n\n[orchestrator]\n  concurrency = 2\n",
    )
    .unwrap();
    let file = d.path().join("onex.toml");
    let out = onex(d.path())
        .args(["config", "--bus", "redis://127.0.0.1:7"])
        .env("ONEX_CLI_MODE", "auto")
        .env("ONEX_PYTHON", "/opt/py/bin/python")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{text}"))
            .to_string()
    };
    assert!(
        line("url = \"redis://127.0.0.1:7\"").ends_with("# flag --bus"),
        "{text}"
    );
    assert!(
        line("topic_prefix = \"t.\"").ends_with(&format!("# {}:2:1", file.display())),
        "{text}"
    );
    assert!(
        line("concurrency = 2").ends_with(&format!("# {}:5:3", file.display())),
        "{text}"
    );
    assert!(
        line("mode = \"auto\"").ends_with("# env ONEX_CLI_MODE"),
        "{text}"
    );
    assert!(
        line("group = \"onex-orchestrator\"").ends_with("# default"),
        "{text}"
    );
    assert!(
        line("interpreter = \"/opt/py/bin/python\"").ends_with("# env ONEX_PYTHON"),
        "{text}"
    );
    assert!(line("# timeout_s =").contains("(unset)"), "{text}");

    // JSON lines, one key each.
    let out = onex(d.path())
        .args(["config", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).unwrap().clone();
    assert_eq!(row("bus.url")["origin"]["kind"], "default");
    assert_eq!(row("bus.topic_prefix")["origin"]["kind"], "file");
    assert_eq!(row("bus.topic_prefix")["origin"]["line"], 2);
    assert_eq!(row("orchestrator.concurrency")["value"], 2);
}

#[test]
fn config_file_flag_replaces_the_lookup() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("onex.toml"),
        "[bus]\ntopic_prefix = \"cwd.\"\n",
    )
    .unwrap();
    let other = d.path().join("ci.toml");
    std::fs::write(&other, "[bus]\ntopic_prefix = \"ci.\"\n").unwrap();
    let out = onex(d.path())
        .args(["--config"])
        .arg(&other)
        .arg("config")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("topic_prefix = \"ci.\"")
            && l.ends_with(&format!("# {}:2:1", other.display()))),
        "{text}"
    );
    // A missing file is an error, not the defaults.
    onex(d.path())
        .args(["--config", "nope.toml", "config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read nope.toml"));
}

#[test]
fn a_misspelt_key_is_an_error_with_position_and_suggestion() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("onex.toml"),
        "[run]\ntimeout_s = 30\n[orchestrator]\nallowed_root = [\"/srv\"]\n",
    )
    .unwrap();
    onex(d.path())
        .arg("config")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:4:1: unknown key `orchestrator.allowed_root` (did you mean \
             `orchestrator.allowed_roots`?)",
            d.path().join("onex.toml").display()
        )));
    // A package's section is checked the same way.
    std::fs::write(d.path().join("onex.toml"), "[python]\ninterpeter = \"x\"\n").unwrap();
    onex(d.path())
        .args([
            "generate",
            "--direct",
            "Create EFFECT node for database writes",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:2:1: unknown key `python.interpeter` (did you mean `python.interpreter`?)",
            d.path().join("onex.toml").display()
        )));
}

#[test]
fn a_zero_run_timeout_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("onex.toml"), "[run]\ntimeout_s = 0\n").unwrap();
    onex(d.path())
        .args([
            "generate",
            "--direct",
            "Create EFFECT node for database writes",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "run.timeout_s ({}:2:1): 0 s would time every run out at once",
            d.path().join("onex.toml").display()
        )));
}

#[test]
fn an_empty_bus_flag_is_an_error_not_the_default() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        &[
            "generate",
            "--bus",
            "",
            "Create EFFECT node for database writes",
        ][..],
        &["orchestrator", "--bus", ""],
        &["events", "tail", "--bus", ""],
        &["runs", "--bus", ""],
    ] {
        onex(d.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("the bus URL is empty"));
    }
    // An empty ONEX_BUS stays "not set" (the configured bus).
    onex(d.path())
        .arg("config")
        .env("ONEX_BUS", "")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("url = \"embedded\""));
}

#[test]
fn metrics_addr_takes_a_host_name() {
    let d = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", d.path().display());
    onex(d.path())
        .args([
            "orchestrator",
            "--bus",
            &bus,
            "--exit-when-idle",
            "0",
            "--metrics-addr",
            "localhost:0",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("metrics on http://127.0.0.1:"));
    onex(d.path())
        .args([
            "orchestrator",
            "--metrics-addr",
            "no-such-host.invalid:9464",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metrics-addr"));
}

#[test]
fn the_readme_documents_every_key_there_is() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme.split_once("## Configuration").unwrap().1;
    let block = section
        .split_once("```toml\n")
        .and_then(|(_, b)| b.split_once("```"))
        .map(|(b, _)| b)
        .expect("a toml block under ## Configuration");
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("readme.toml");
    std::fs::write(&file, block).unwrap();
    let out = onex(d.path())
        .arg("--config")
        .arg(&file)
        .args(["config", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    for line in String::from_utf8(out).unwrap().lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            row["origin"]["kind"], "file",
            "{} is accepted but the README's example does not show it",
            row["key"]
        );
    }
}
