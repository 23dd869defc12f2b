//! Which orchestrators are alive on the embedded bus. Each running orchestrator holds an
//! exclusive `flock` on its own file in `<bus dir>/orchestrators/` for as long as it runs; the
//! kernel drops the lock when the process dies, however it dies, so a stale file never counts.
//! `onex generate` uses this to decide whether to run an orchestrator itself.

use rustix::fs::{FlockOperation, flock};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The presence directory next to an embedded bus database.
pub fn dir_for(bus_db: &Path) -> PathBuf {
    bus_db
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join("orchestrators")
}

/// A registered orchestrator; dropping it unregisters.
pub struct Presence {
    _file: File,
    path: PathBuf,
}

impl Presence {
    /// Registers `instance` in `dir` (created if missing).
    pub fn register(dir: &Path, instance: &str) -> io::Result<Presence> {
        fs::create_dir_all(dir)?;
        let name: String = instance
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        flock(&file, FlockOperation::NonBlockingLockExclusive)?;
        Ok(Presence { _file: file, path })
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether any orchestrator registered in `dir` is alive. Files of dead ones are removed.
pub fn any_alive(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    let mut alive = false;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("lock") {
            continue;
        }
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            // Nobody holds it: its orchestrator is gone.
            Ok(()) => {
                let _ = fs::remove_file(&path);
            }
            Err(_) => alive = true,
        }
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_is_alive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!any_alive(dir.path()));
        let p = Presence::register(dir.path(), "host:1:abc").unwrap();
        assert!(any_alive(dir.path()));
        drop(p);
        assert!(!any_alive(dir.path()));
    }

    #[test]
    fn a_stale_file_of_a_dead_process_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dead.lock"), b"").unwrap();
        assert!(!any_alive(dir.path()));
        assert!(!dir.path().join("dead.lock").exists());
    }
}
