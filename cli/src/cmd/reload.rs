//! Hot reload for `onex orchestrator`: the workflow files' directories are watched (inotify
//! through `notify`, debounced: an editor's write-rename-chmod is one change) and SIGHUP asks
//! too; either reloads through the engine's one validation path
//! ([`onex_engine::service::reload`]). docs/contracts.md "Changing a live workflow".

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use onex_engine::pipeline::Handlers;
use onex_engine::service::Orchestrator;
use onex_engine::service::reload::{self, Cause, Reloaded};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Quiet time before a burst of file events counts as one change.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Reloads `files` into `orch` on SIGHUP and, with `watch`, when a YAML file beside them
/// changes. Runs for the life of the process.
pub async fn watch(orch: Arc<Orchestrator>, files: Vec<PathBuf>, handlers: Handlers, watch: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Cause>();
    // Registered before anything else can happen: SIGHUP's default action ends the process.
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("onex orchestrator: SIGHUP will not reload: {e}");
            None
        }
    };
    // Editors replace a file by renaming another over it: watch the directories, not the
    // files (a watch on the old inode would go quiet).
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.canonicalize().ok()?.parent().map(PathBuf::from))
        .collect();
    let _debouncer = if watch {
        let tx = tx.clone();
        match new_debouncer(DEBOUNCE, move |res: DebounceEventResult| match res {
            Ok(events)
                if events.iter().any(|e| {
                    e.path
                        .extension()
                        .is_some_and(|x| x == "yaml" || x == "yml")
                }) =>
            {
                let _ = tx.send(Cause::FileChange);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("watching the workflow files: {e}"),
        }) {
            Ok(mut d) => {
                for dir in &dirs {
                    if let Err(e) = d.watcher().watch(dir, RecursiveMode::NonRecursive) {
                        eprintln!(
                            "onex orchestrator: cannot watch {} ({e}); SIGHUP still reloads",
                            dir.display()
                        );
                    }
                }
                Some(d)
            }
            Err(e) => {
                eprintln!("onex orchestrator: file watching is off ({e}); SIGHUP still reloads");
                None
            }
        }
    } else {
        None
    };
    // Reading the files to validate them is itself a file event (notify reports opens and
    // reads): a change only counts when the bytes differ from the last attempt's.
    let mut last = fingerprint(&files);
    loop {
        let cause = tokio::select! {
            Some(c) = rx.recv() => c,
            Some(()) = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => Cause::Sighup,
            else => return,
        };
        let now = fingerprint(&files);
        if cause == Cause::FileChange && now == last {
            continue;
        }
        last = now;
        match reload::reload(&orch, &files, &handlers, cause).await {
            Reloaded::Loaded(ids) => {
                eprintln!(
                    "onex orchestrator: reloaded: new runs start on {}",
                    ids.join(", ")
                )
            }
            Reloaded::Unchanged if cause == Cause::Sighup => {
                eprintln!("onex orchestrator: SIGHUP: the workflow files are unchanged")
            }
            Reloaded::Unchanged => {}
            Reloaded::Failed(problems) => eprintln!(
                "onex orchestrator: reload refused, still serving {}:\n  {}",
                orch.workflows()
                    .workflows()
                    .iter()
                    .map(|w| w.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                problems.join("\n  ")
            ),
        }
    }
}

/// The files' bytes, hashed (a missing file hashes as absent).
fn fingerprint(files: &[PathBuf]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}
