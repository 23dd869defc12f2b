//! Running a child process for a step: stdin closed, output captured up to a cap, the child in a
//! process group of its own so that a timeout — or the step being cancelled (the future
//! dropped) — kills everything it started, not just the direct child.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The outcome of one child process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// `None` when killed by a signal (or by us on timeout).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    /// Whether a stream was longer than the cap (its excess was read and dropped).
    pub truncated: bool,
}

impl Ran {
    pub fn success(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }

    /// `exit code 2` / `killed by a signal`.
    pub fn describe_exit(&self) -> String {
        match self.code {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".to_string(),
        }
    }
}

/// How long to wait for the output pipes to close once the child is gone (a grandchild that left
/// the process group could hold them open).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Kills the process group when dropped: a cancelled step leaves nothing running.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Runs `cmd` (stdin closed, output captured, at most `cap` bytes kept per stream) in its own
/// process group; after `timeout` the whole group is killed. Dropping the returned future kills
/// the group too.
pub async fn run(mut cmd: Command, timeout: Duration, cap: usize) -> std::io::Result<Ran> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let mut guard = GroupGuard(pid);
    let out = child.stdout.take().map(|r| read_capped(r, cap));
    let err = child.stderr.take().map(|r| read_capped(r, cap));
    let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (Some(status?), false),
        Err(_) => {
            // The child is not reaped yet, so its pid still names this group.
            kill_group(pid);
            let _ = child.kill().await;
            (None, true)
        }
    };
    let ((stdout, t1), (stderr, t2)) = join_outputs(out, err, pid).await;
    // A clean exit leaves no group to kill; a leftover one the join has dealt with.
    guard.0 = None;
    Ok(Ran {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        timed_out,
        truncated: t1 || t2,
    })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
        // ESRCH (group already gone) is the normal case after a clean exit.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

type Captured = (String, bool);

fn read_capped<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut r: R,
    cap: usize,
) -> tokio::task::JoinHandle<Captured> {
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = (&mut r).take(cap as u64).read_to_end(&mut buf).await;
        // Keep draining so the child never blocks on a full pipe; the excess is dropped.
        let mut sink = [0u8; 8192];
        let mut truncated = false;
        while let Ok(n) = r.read(&mut sink).await {
            if n == 0 {
                break;
            }
            truncated = true;
        }
        (String::from_utf8_lossy(&buf).into_owned(), truncated)
    })
}

/// Collects both pipes. They close when every process holding them exits; if a leftover of the
/// group (a worker the tool spawned) keeps them open past the grace period, the group is killed —
/// safe, because a process group id is not reused while a member lives — and after a second
/// grace period the readers are abandoned (a process that left the group).
async fn join_outputs(
    out: Option<tokio::task::JoinHandle<Captured>>,
    err: Option<tokio::task::JoinHandle<Captured>>,
    pid: Option<u32>,
) -> (Captured, Captured) {
    let aborts: Vec<_> = [&out, &err]
        .into_iter()
        .flatten()
        .map(|h| h.abort_handle())
        .collect();
    let both = async {
        let o = match out {
            Some(h) => h.await.unwrap_or_default(),
            None => Default::default(),
        };
        let e = match err {
            Some(h) => h.await.unwrap_or_default(),
            None => Default::default(),
        };
        (o, e)
    };
    tokio::pin!(both);
    if let Ok(r) = tokio::time::timeout(PIPE_GRACE, &mut both).await {
        return r;
    }
    kill_group(pid);
    match tokio::time::timeout(PIPE_GRACE, &mut both).await {
        Ok(r) => r,
        Err(_) => {
            aborts.iter().for_each(|a| a.abort());
            Default::default()
        }
    }
}

/// Where `program` is: itself when it names a path (`./x`, `/usr/bin/x`), else the first
/// executable file of that name on `PATH`.
pub fn resolve_program(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| executable(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_capped_and_the_excess_drained() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "head -c 100000 /dev/zero | tr '\\0' x; echo done >&2"]);
        let ran = run(cmd, Duration::from_secs(10), 1000).await.unwrap();
        assert!(ran.success());
        assert_eq!(ran.stdout.len(), 1000);
        assert!(ran.truncated);
        assert_eq!(ran.stderr.trim(), "done");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        let ran = run(cmd, Duration::from_millis(300), 1000).await.unwrap();
        assert!(ran.timed_out);
        assert_eq!(ran.code, None);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let pid = rustix::process::Pid::from_raw(pid).unwrap();
        // Killed, it is reaped by init shortly; wait for that, not for a fixed time.
        let gone = async {
            while rustix::process::test_kill_process(pid).is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), gone)
            .await
            .expect("the grandchild outlived the timeout");
    }

    #[test]
    fn programs_resolve_on_path_or_as_paths() {
        assert!(resolve_program("sh").is_some());
        assert!(resolve_program("/bin/sh").is_some());
        assert!(resolve_program("no-such-program-onex").is_none());
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        assert!(
            resolve_program(plain.to_str().unwrap()).is_none(),
            "not executable"
        );
    }
}
