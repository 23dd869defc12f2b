//! The set-up scripts a new user runs: scripts/python-env.sh finds a Python 3.12 in the documented
//! order (never one hard-coded path), scripts/test.sh builds where `cargo run` builds and stops
//! only the brokers it started.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An executable shell script at `path`.
fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fake interpreter: `exit 0` answers "yes, 3.12 (and ready)" to the script's checks.
const PY312: &str = "exit 0";
const PY311: &str = "exit 1";

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// scripts/python-env.sh with only the sandbox's bin/ and the system's base tools on PATH.
    fn python_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut c = Command::new(repo().join("scripts/python-env.sh"));
        c.args(args)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env("HOME", self.path("home"))
            .env("PYENV_ROOT", self.path("pyenv"))
            .env("ONEX_PY312_VENV", self.path("venv"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn python_env_finds_3_12_in_the_documented_order() {
    let s = Sandbox::new();
    let old = s.path("old/python");
    script(&old, PY311);
    let onex_python = s.path("mine/python");
    script(&onex_python, PY312);
    let on_path = s.path("bin/python3.12");
    script(&on_path, PY312);
    for v in ["3.12.3", "3.12.10", "3.11.9"] {
        script(&s.path(&format!("pyenv/versions/{v}/bin/python")), PY312);
    }
    let from_uv = s.path("uv/cpython-3.12/bin/python");
    script(&from_uv, PY312);

    // 1. $ONEX_PYTHON, when it is a 3.12.
    let o = s.python_env(&["--find"], &[("ONEX_PYTHON", &onex_python)]);
    assert_eq!(stdout(&o), onex_python.display().to_string());
    // 2. python3.12 on PATH (an ONEX_PYTHON that is no 3.12 is passed over).
    let o = s.python_env(&["--find"], &[("ONEX_PYTHON", &old)]);
    assert_eq!(stdout(&o), on_path.display().to_string());
    // 3. pyenv's newest 3.12.
    std::fs::remove_file(&on_path).unwrap();
    let o = s.python_env(&["--find"], &[]);
    assert_eq!(
        stdout(&o),
        s.path("pyenv/versions/3.12.10/bin/python")
            .display()
            .to_string()
    );
    // 4. `uv python find 3.12`.
    std::fs::remove_dir_all(s.path("pyenv")).unwrap();
    script(
        &s.path("bin/uv"),
        &format!(
            "[ \"$*\" = 'python find 3.12' ] && echo {} || exit 1",
            from_uv.display()
        ),
    );
    let o = s.python_env(&["--find"], &[]);
    assert_eq!(stdout(&o), from_uv.display().to_string());
}

#[test]
fn python_env_without_a_3_12_says_how_to_get_one() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("bin")).unwrap();
    let o = s.python_env(&[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no Python 3.12 found"), "{err}");
    assert!(err.contains("uv python install 3.12"), "{err}");
    assert!(!s.path("venv").exists());
}

#[test]
fn python_env_uses_a_ready_onex_python_as_it_is() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("bin")).unwrap();
    // The fake answers the "omnibase-core == pin and mypy" check with success.
    let ready = s.path("ready/python");
    script(&ready, PY312);
    let o = s.python_env(&[], &[("ONEX_PYTHON", &ready)]);
    assert_eq!(stdout(&o), ready.display().to_string());
    assert!(!s.path("venv").exists(), "no venv made for a ready Python");
}

/// Stops what a test started in its own brokers dir, whatever happens (recorded pids only).
struct Brokers {
    dir: PathBuf,
}

impl Brokers {
    fn run(&self, args: &[&str]) -> String {
        let o = Command::new(repo().join("scripts/brokers.sh"))
            .args(args)
            .env("ONEX_BROKERS_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "brokers.sh {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn running(&self) -> Vec<String> {
        let mut v: Vec<String> = self.run(&["running"]).lines().map(str::to_owned).collect();
        v.sort();
        v
    }
}

impl Drop for Brokers {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/brokers.sh"))
            .arg("stop")
            .env("ONEX_BROKERS_DIR", &self.dir)
            .output();
    }
}

#[test]
fn test_sh_stops_only_the_brokers_it_started_and_builds_into_target() {
    // The brokers' installed software is reused from the shared dir (no download in a test).
    let shared_venv = std::env::var_os("ONEX_BROKERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/onex-brokers".into())
        .join("venv");
    let has_redis = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !shared_venv.join("bin/moto_server").is_file() || !has_redis {
        eprintln!(
            "\n!!!!!!!! SKIPPED: no broker install to reuse ({} or redis-server missing; \
             scripts/brokers.sh start makes it) !!!!!!!!\n",
            shared_venv.display()
        );
        return;
    }
    let s = Sandbox::new();
    let brokers = Brokers {
        dir: s.path("brokers"),
    };
    std::fs::create_dir_all(&brokers.dir).unwrap();
    std::os::unix::fs::symlink(&shared_venv, brokers.dir.join("venv")).unwrap();

    // cargo records where it would build and what it would run; a ready Python needs no venv.
    let log = s.path("cargo.log");
    script(
        &s.path("bin/cargo"),
        &format!(
            "echo \"CARGO_TARGET_DIR=${{CARGO_TARGET_DIR-unset}} $*\" >> {}",
            log.display()
        ),
    );
    let ready = s.path("ready/python");
    script(&ready, PY312);
    let test_sh = |keep: bool| {
        let mut c = Command::new(repo().join("scripts/test.sh"));
        c.env("ONEX_BROKERS_DIR", &brokers.dir)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    s.path("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("ONEX_PYTHON", &ready)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("ONEX_KEEP_BROKERS");
        if keep {
            c.env("ONEX_KEEP_BROKERS", "1");
        }
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "test.sh: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };

    // Brokers that were running before are left running.
    brokers.run(&["start"]);
    let all = vec!["moto".to_string(), "redis".into(), "tansu".into()];
    assert_eq!(brokers.running(), all);
    test_sh(false);
    assert_eq!(brokers.running(), all);

    // The one it had to start is stopped at the end; the others stay.
    brokers.run(&["stop", "redis"]);
    assert_eq!(brokers.running(), ["moto", "tansu"]);
    test_sh(false);
    assert_eq!(brokers.running(), ["moto", "tansu"]);

    // ONEX_KEEP_BROKERS=1 keeps it.
    test_sh(true);
    assert_eq!(brokers.running(), all);

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.lines().any(|l| l.contains(" nextest run --workspace")),
        "{log}"
    );
    assert!(
        log.lines()
            .all(|l| l.starts_with("CARGO_TARGET_DIR=unset ")),
        "test.sh must build where `cargo run` does (target/): {log}"
    );
}

#[test]
fn generate_without_omnibase_core_prints_the_set_up_command() {
    // The system python3 of these machines has no omnibase-core (the test says so if it has).
    let py = Path::new("/usr/bin/python3");
    let has = Command::new(py)
        .args(["-c", "import omnibase_core"])
        .output()
        .map(|o| o.status.success());
    if has.unwrap_or(true) {
        eprintln!("\n!!!!!!!! SKIPPED: needs a /usr/bin/python3 without omnibase_core !!!!!!!!\n");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_onex"))
        .args(["generate", "--direct", "-o", "generated"])
        .arg("Create EFFECT node for database writes")
        .current_dir(d.path())
        .env("XDG_STATE_HOME", d.path().join("state"))
        .env("XDG_CONFIG_HOME", d.path().join("config"))
        .env("ONEX_PYTHON", py)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("G14"), "{all}");
    assert!(
        all.contains(
            "Set up a Python 3.12 with omnibase-core 0.47.57: \
             export ONEX_PYTHON=\"$(scripts/python-env.sh)\" (in the onex repository)"
        ),
        "{all}"
    );
}
