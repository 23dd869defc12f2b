//! Output placement (docs/generation.md §4.8) and gate G6 "Output Directory Writable" (docs/generation.md §2).
//!
//! What lives here:
//! - [`plan`]: where a run writes — `<out>`, `<out>/node_…`, and the run's private staging dir
//!   `<out>/.onex-staging/<correlation_id>/node_…`;
//! - [`g6_check`]: the G6 checks on that plan, including crash recovery (docs/generation.md §5.2): a node dir whose
//!   `node.manifest.yaml` carries this run's correlation id was written by this run before a crash,
//!   so G6 accepts it (`resumed`) and the run completes without rewriting it;
//! - [`Staging`]: renders land in the staging dir (fsync per file and per directory), then
//!   [`Staging::place`] renames the staged dir into place without ever replacing what another
//!   process put there (`renameat2(RENAME_NOREPLACE)`, else a directory lock + check + rename);
//!   with `force` the old dir is swapped out and restored if the swap fails;
//! - cleanup ([`Staging::cleanup`], also on drop): removes only this run's own staging dir, then
//!   `rmdir`s `.onex-staging` and the directories the run created, so a failed, cancelled or
//!   timed-out run leaves `<out>` exactly as it found it and concurrent runs never delete each
//!   other's files.
//!
//! A run, in pipeline order:
//! 1. pre_validation: `let plan = plan(out, dir_name, correlation_id, force, roots)?` (on error
//!    [`G6Outcome::from_plan_error`]), then [`g6_check`]; `resumed` → skip to compilation;
//! 2. generation: [`Staging::create`] (fsync off), [`Staging::write_file`] per rendered file;
//! 3. writing: [`Staging::sync_files`] (one WritingProgress per file), [`Staging::place`];
//! 4. always: [`Staging::cleanup`] (or drop). With fsync on at creation, `write_file` fsyncs
//!    as it goes and `sync_files` is not needed ([`Staging::write_files`] reports progress).
//!
//! Paths are resolved once (issue D8): [`Staging::create`] opens `<out>` from the allowed root it
//! lies in — the root (or its nearest existing ancestor) by path, every component below it with
//! `O_NOFOLLOW`, creating missing ones with `mkdirat` — and from then on every operation is
//! relative to a directory descriptor (`openat`, `mkdirat`, `renameat2`, `unlinkat`, never
//! following a symlink). A component flipped to a symlink after G6 fails the run instead of
//! redirecting its writes; G6's write probe goes the same way.
//!
//! All I/O here is blocking I/O (a dozen small files); async callers run it in
//! `spawn_blocking`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::compile::{GateOutcome, GateStatus};

/// Name of the staging directory shared by all runs writing into one `<out>` (hidden, so
/// `onex validate` skips it).
pub const STAGING_DIR_NAME: &str = ".onex-staging";
/// The file G6 reads to recognise a node dir written by this run.
pub const MANIFEST_FILE: &str = "node.manifest.yaml";
/// Staging dirs of other runs older than this are purged by the next run (docs/generation.md §4.8).
pub const STALE_STAGING_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// A manifest larger than this is not ours (generated manifests are a few KiB); reading is capped
/// so a hostile file cannot exhaust memory.
const MANIFEST_READ_LIMIT: u64 = 1 << 20;
/// How often the create-out → create-staging sequence is retried when another run's cleanup
/// removes a shared directory in between (each retry needs a concurrent rmdir to lose the race).
const CREATE_RETRIES: usize = 16;

const G6: &str = "G6";
const SUGGEST_FIX_PERMISSIONS: &str = "Fix permissions or choose another -o";
const SUGGEST_FORCE: &str = "Use --force";
/// Outside the roots a run may write to: permissions are not the problem, the roots are.
const SUGGEST_ALLOWED_ROOT: &str = "Choose an -o inside the allowed roots, or allow its directory: \
     `onex orchestrator --allowed-root DIR` (or `orchestrator.allowed_roots` in onex.toml)";
const SUGGEST_NO_PARENT: &str =
    "Give -o without '..' components (an absolute path, or one below the working directory)";

/// Error codes of the writing stage (docs/generation.md §5.3 WritingFailed) and of G6 (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputErrorCode {
    PermissionDenied,
    DiskFull,
    DirectoryNotFound,
    FileWriteError,
    OutputExists,
    OutputNotWritable,
    OutputOutsideRoot,
}

impl OutputErrorCode {
    /// The wire form (`PERMISSION_DENIED`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OutputErrorCode::PermissionDenied => "PERMISSION_DENIED",
            OutputErrorCode::DiskFull => "DISK_FULL",
            OutputErrorCode::DirectoryNotFound => "DIRECTORY_NOT_FOUND",
            OutputErrorCode::FileWriteError => "FILE_WRITE_ERROR",
            OutputErrorCode::OutputExists => "OUTPUT_EXISTS",
            OutputErrorCode::OutputNotWritable => "OUTPUT_NOT_WRITABLE",
            OutputErrorCode::OutputOutsideRoot => "OUTPUT_OUTSIDE_ROOT",
        }
    }

    /// Maps an I/O error to the writing stage's codes.
    pub fn from_io(err: &io::Error) -> OutputErrorCode {
        use io::ErrorKind as K;
        match err.kind() {
            K::PermissionDenied | K::ReadOnlyFilesystem => OutputErrorCode::PermissionDenied,
            K::StorageFull | K::QuotaExceeded => OutputErrorCode::DiskFull,
            K::NotFound | K::NotADirectory => OutputErrorCode::DirectoryNotFound,
            _ => OutputErrorCode::FileWriteError,
        }
    }
}

impl std::fmt::Display for OutputErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of planning, staging, placement or cleanup. The message names what failed and where.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OutputError {
    pub code: OutputErrorCode,
    pub message: String,
    /// The file system path the error is about.
    pub path: Option<PathBuf>,
    /// The node file (relative to the node dir) being written, for WritingFailed.failed_file.
    pub failed_file: Option<String>,
    /// True when a replaced node dir was moved back after a failed swap (WritingFailed and
    /// PipelineFailed `rollback_performed`).
    pub rollback_performed: bool,
}

impl OutputError {
    fn new(code: OutputErrorCode, message: impl Into<String>, path: Option<&Path>) -> Self {
        OutputError {
            code,
            message: message.into(),
            path: path.map(Path::to_path_buf),
            failed_file: None,
            rollback_performed: false,
        }
    }

    /// `what` says what was being done ("create directory"); the message carries the path and the
    /// OS error.
    fn io(what: &str, path: &Path, err: &io::Error) -> Self {
        OutputError::new(
            OutputErrorCode::from_io(err),
            format!("{what} '{}': {err}", path.display()),
            Some(path),
        )
    }

    fn with_file(mut self, rel: &str) -> Self {
        self.failed_file = Some(rel.to_string());
        self
    }

    /// Recovery suggestion for PipelineFailed / WritingFailed.
    pub fn suggestion(&self) -> &'static str {
        match self.code {
            OutputErrorCode::OutputExists => SUGGEST_FORCE,
            OutputErrorCode::DiskFull => "Free disk space or choose another -o",
            OutputErrorCode::OutputOutsideRoot => SUGGEST_ALLOWED_ROOT,
            _ => SUGGEST_FIX_PERMISSIONS,
        }
    }
}

/// Where one run writes. Built by [`plan`]; checked by [`g6_check`]; executed by [`Staging`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlan {
    /// `<out>`: absolute, `.` components and repeated separators removed. `..` components are kept
    /// (never resolved lexically, which would be wrong across symlinks): G6 refuses them.
    pub out_dir: PathBuf,
    /// The node directory's name, `node_{domain}_{svc}_{type}`.
    pub node_dir_name: String,
    /// `<out>/node_…`
    pub node_dir: PathBuf,
    /// `<out>/.onex-staging`, shared by concurrent runs.
    pub staging_root: PathBuf,
    /// `<out>/.onex-staging/<correlation_id>`, this run's own.
    pub run_staging: PathBuf,
    /// `<out>/.onex-staging/<correlation_id>/node_…`, where the files are rendered.
    pub staged_node_dir: PathBuf,
    /// Replace an existing node dir (`--force`).
    pub force: bool,
    pub correlation_id: Uuid,
    /// Directories `<out>` must lie in (after following symlinks), made absolute.
    pub allowed_roots: Vec<PathBuf>,
}

/// Builds the [`OutputPlan`] of a run. `out_dir` may be relative (to the working directory);
/// `node_dir_name` must be a single plain path component (it passed G3). `allowed_roots`: see G6
/// (docs/generation.md §5.4 — for `--direct`, the explicit `-o` itself or the working directory).
pub fn plan(
    out_dir: &Path,
    node_dir_name: &str,
    correlation_id: Uuid,
    force: bool,
    allowed_roots: &[PathBuf],
) -> Result<OutputPlan, OutputError> {
    if !is_plain_component(node_dir_name) || node_dir_name.starts_with('.') {
        return Err(OutputError::new(
            OutputErrorCode::OutputOutsideRoot,
            format!("node directory name '{node_dir_name}' is not a single plain path component"),
            None,
        ));
    }
    if out_dir.as_os_str().is_empty() {
        return Err(OutputError::new(
            OutputErrorCode::DirectoryNotFound,
            "output directory is empty",
            None,
        ));
    }
    let out_dir = absolute_normalised(out_dir)?;
    let allowed_roots = allowed_roots
        .iter()
        .map(|r| absolute_normalised(r))
        .collect::<Result<Vec<_>, _>>()?;
    let staging_root = out_dir.join(STAGING_DIR_NAME);
    let run_staging = staging_root.join(correlation_id.hyphenated().to_string());
    Ok(OutputPlan {
        node_dir: out_dir.join(node_dir_name),
        staged_node_dir: run_staging.join(node_dir_name),
        node_dir_name: node_dir_name.to_string(),
        out_dir,
        staging_root,
        run_staging,
        force,
        correlation_id,
        allowed_roots,
    })
}

fn is_plain_component(name: &str) -> bool {
    let mut comps = Path::new(name).components();
    matches!((comps.next(), comps.next()), (Some(Component::Normal(c)), None) if c == name)
        && !name.contains('\0')
}

/// Absolute path with `.` and empty components dropped; `..` kept.
fn absolute_normalised(p: &Path) -> Result<PathBuf, OutputError> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| OutputError::io("read the working directory for", p, &e))?;
        cwd.join(p)
    };
    Ok(abs.components().collect())
}

/// Result of G6. `gate` is the GateSummary material; `resumed` means the node dir was already
/// written by this run (crash after rename, docs/generation.md §5.2): skip generation/writing and complete the run.
#[derive(Debug, Clone, PartialEq)]
pub struct G6Outcome {
    pub gate: GateOutcome,
    pub resumed: bool,
    /// The node dir exists and `force` is set: writing will replace it (WritingStarted
    /// `replace_existing`).
    pub replace_existing: bool,
    /// `<out>` with symlinks resolved (nearest existing ancestor canonicalised), when computed.
    pub canonical_out_dir: Option<PathBuf>,
}

impl G6Outcome {
    pub fn passed(&self) -> bool {
        self.gate.status == GateStatus::Pass
    }

    fn fail(
        code: OutputErrorCode,
        message: String,
        suggestion: &str,
        details: serde_json::Value,
    ) -> Self {
        G6Outcome {
            gate: GateOutcome {
                gate_id: G6.to_string(),
                status: GateStatus::Fail,
                message,
                error_code: Some(code.as_str().to_string()),
                recovery_suggestions: vec![suggestion.to_string()],
                skip_reason: None,
                details,
                duration_ms: 0,
            },
            resumed: false,
            replace_existing: false,
            canonical_out_dir: None,
        }
    }

    /// G6 for a plan that could not even be built ([`plan`] returned an error).
    pub fn from_plan_error(err: &OutputError) -> Self {
        let code = match err.code {
            OutputErrorCode::OutputOutsideRoot => OutputErrorCode::OutputOutsideRoot,
            _ => OutputErrorCode::OutputNotWritable,
        };
        let message = match code {
            OutputErrorCode::OutputOutsideRoot => err.message.clone(),
            _ => format!("not writable: {}", err.message),
        };
        let suggestion = match code {
            OutputErrorCode::OutputOutsideRoot => SUGGEST_ALLOWED_ROOT,
            _ => SUGGEST_FIX_PERMISSIONS,
        };
        G6Outcome::fail(code, message, suggestion, json!({}))
    }
}

/// Gate G6 (docs/generation.md §2): `..`, allowed roots (symlinks followed), writability with a probe file,
/// existing node dir (force / resumed). Never changes anything on disk (the probe file is
/// created and removed).
pub fn g6_check(plan: &OutputPlan) -> G6Outcome {
    let started = Instant::now();
    let mut out = g6_inner(plan);
    out.gate.duration_ms = started.elapsed().as_millis() as u64;
    out
}

fn g6_inner(plan: &OutputPlan) -> G6Outcome {
    let dir = plan.out_dir.display().to_string();
    let mut details = json!({
        "output_directory": dir,
        "node_directory": plan.node_dir.display().to_string(),
    });
    if plan
        .out_dir
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return G6Outcome::fail(
            OutputErrorCode::OutputOutsideRoot,
            format!("'{dir}': '..' not allowed"),
            SUGGEST_NO_PARENT,
            details,
        );
    }

    // Canonical form of <out>: the nearest existing ancestor with symlinks resolved, plus the
    // components that do not exist yet (which therefore cannot be symlinks).
    let (existing, rest) = match nearest_existing(&plan.out_dir) {
        Some(x) => x,
        None => {
            return G6Outcome::fail(
                OutputErrorCode::OutputNotWritable,
                format!("not writable: no part of '{dir}' exists"),
                SUGGEST_FIX_PERMISSIONS,
                details,
            );
        }
    };
    let canonical_existing = match fs::canonicalize(&existing) {
        Ok(c) => c,
        Err(e) => {
            return G6Outcome::fail(
                OutputErrorCode::OutputNotWritable,
                format!("not writable: cannot resolve '{}': {e}", existing.display()),
                SUGGEST_FIX_PERMISSIONS,
                details,
            );
        }
    };
    let canonical = rest
        .iter()
        .fold(canonical_existing.clone(), |p, c| p.join(c));
    details["canonical_output_directory"] = json!(canonical.display().to_string());

    let roots = canonical_roots(&plan.allowed_roots);
    if !roots.iter().any(|r| canonical.starts_with(r)) {
        let list = roots
            .iter()
            .map(|r| format!("'{}'", r.display()))
            .collect::<Vec<_>>()
            .join(", ");
        let shown = if list.is_empty() {
            "none configured".to_string()
        } else {
            list
        };
        return G6Outcome::fail(
            OutputErrorCode::OutputOutsideRoot,
            format!(
                "'{}' is outside allowed roots ({shown})",
                canonical.display()
            ),
            SUGGEST_ALLOWED_ROOT,
            details,
        );
    }

    // Writability: <out> itself when it exists, else its nearest existing ancestor (where the
    // run will create the missing directories).
    let probe_dir = &canonical_existing;
    match fs::metadata(probe_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return G6Outcome::fail(
                OutputErrorCode::OutputNotWritable,
                format!("not writable: '{}' is not a directory", probe_dir.display()),
                SUGGEST_FIX_PERMISSIONS,
                details,
            );
        }
        Err(e) => {
            return G6Outcome::fail(
                OutputErrorCode::OutputNotWritable,
                format!("not writable: '{}': {e}", probe_dir.display()),
                SUGGEST_FIX_PERMISSIONS,
                details,
            );
        }
    }
    if let Err(e) = probe_write(probe_dir, &roots) {
        return G6Outcome::fail(
            OutputErrorCode::OutputNotWritable,
            format!("not writable: {e}"),
            SUGGEST_FIX_PERMISSIONS,
            details,
        );
    }

    let node = plan.node_dir.display().to_string();
    let mut resumed = false;
    let mut replace_existing = false;
    match fs::symlink_metadata(&plan.node_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return G6Outcome::fail(
                OutputErrorCode::OutputNotWritable,
                format!("not writable: cannot inspect '{node}': {e}"),
                SUGGEST_FIX_PERMISSIONS,
                details,
            );
        }
        Ok(m) => {
            if m.is_dir() && manifest_correlation_id(&plan.node_dir) == Some(plan.correlation_id) {
                resumed = true;
            } else if plan.force {
                replace_existing = true;
            } else {
                return G6Outcome::fail(
                    OutputErrorCode::OutputExists,
                    format!("'{node}' exists"),
                    SUGGEST_FORCE,
                    details,
                );
            }
        }
    }
    details["resumed"] = json!(resumed);
    details["replace_existing"] = json!(replace_existing);
    let message = if resumed {
        format!("'{node}' already written by this run")
    } else {
        format!("'{dir}' is writable")
    };
    G6Outcome {
        gate: GateOutcome {
            gate_id: G6.to_string(),
            status: GateStatus::Pass,
            message,
            error_code: None,
            recovery_suggestions: Vec::new(),
            skip_reason: None,
            details,
            duration_ms: 0,
        },
        resumed,
        replace_existing,
        canonical_out_dir: Some(canonical),
    }
}

/// `p` with symlinks resolved as far as it exists: its nearest existing ancestor canonicalised,
/// plus the rest (a root that does not exist yet still compares correctly under a symlinked
/// parent such as macOS's `/tmp`).
fn canonical_lenient(p: &Path) -> Option<PathBuf> {
    let (existing, rest) = nearest_existing(p)?;
    let base = fs::canonicalize(existing).ok()?;
    Some(rest.iter().fold(base, |acc, c| acc.join(c)))
}

/// The nearest ancestor of `p` (itself included) that exists (as anything, a dangling symlink
/// included), and the names below it that do not.
fn nearest_existing(p: &Path) -> Option<(PathBuf, Vec<std::ffi::OsString>)> {
    let mut rest = Vec::new();
    let mut cur = p;
    loop {
        if fs::symlink_metadata(cur).is_ok() {
            rest.reverse();
            return Some((cur.to_path_buf(), rest));
        }
        rest.push(cur.file_name()?.to_os_string());
        cur = cur.parent()?;
    }
}

/// Creates and removes `.onex-probe-<uuid>` in `dir` (canonical), reached from its allowed root
/// without following symlinks, so the probe cannot land outside the root either.
fn probe_write(dir: &Path, roots: &[PathBuf]) -> Result<(), String> {
    let name = format!(".onex-probe-{}", Uuid::new_v4());
    let probe = dir.join(&name);
    let fd = open_beneath(dir, roots, None)
        .map_err(|e| format!("cannot create '{}': {}", probe.display(), e.message))?;
    rfs::openat(
        &fd,
        name.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        FILE_MODE,
    )
    .map_err(|e| {
        format!(
            "cannot create '{}': {}",
            probe.display(),
            io::Error::from(e)
        )
    })?;
    rfs::unlinkat(&fd, name.as_str(), AtFlags::empty()).map_err(|e| {
        format!(
            "cannot remove '{}': {}",
            probe.display(),
            io::Error::from(e)
        )
    })
}

#[derive(Deserialize)]
struct ManifestProbe {
    #[serde(default)]
    x_extensions: Option<ManifestExtensions>,
}

#[derive(Deserialize)]
struct ManifestExtensions {
    #[serde(default)]
    generated_by: Option<ManifestGeneratedBy>,
}

#[derive(Deserialize)]
struct ManifestGeneratedBy {
    #[serde(default)]
    correlation_id: Option<String>,
}

/// `x_extensions.generated_by.correlation_id` of `<node_dir>/node.manifest.yaml`, if the file is
/// a regular file, parses, and carries a UUID there. Anything else means "not written by a run
/// we can recognise".
pub fn manifest_correlation_id(node_dir: &Path) -> Option<Uuid> {
    let path = node_dir.join(MANIFEST_FILE);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut text = String::new();
    File::open(&path)
        .ok()?
        .take(MANIFEST_READ_LIMIT)
        .read_to_string(&mut text)
        .ok()?;
    let m: ManifestProbe = serde_saphyr::from_str(&text).ok()?;
    let id = m.x_extensions?.generated_by?.correlation_id?;
    Uuid::parse_str(id.trim()).ok()
}

/// Options of a [`Staging`].
#[derive(Debug, Clone)]
pub struct StagingOptions {
    /// fsync every file and directory before placing (default on; off only for benchmarks and
    /// tmpfs, where it buys nothing).
    pub fsync: bool,
    /// Keep the run's staging dir after a failure (`--keep-failed`, debugging).
    pub keep_failed: bool,
    /// Test-only fault injection; `None` in production.
    #[doc(hidden)]
    pub fault: Option<Fault>,
}

impl Default for StagingOptions {
    fn default() -> Self {
        StagingOptions {
            fsync: true,
            keep_failed: false,
            fault: None,
        }
    }
}

/// Faults the tests inject to reach failure paths that cannot be provoked from outside
/// deterministically (a rename failing between two others).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// With force: moving the new node dir in fails after the old one was moved out.
    ReplaceMoveIn,
    /// With force: moving the new dir in and moving the old one back both fail.
    ReplaceMoveInAndRestore,
    /// Behave as on a file system without `RENAME_NOREPLACE`: lock + check + rename.
    NoRenameNoreplace,
}

/// One file written into staging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// Relative to the node dir, `/`-separated (`v1_0_0/node.py`).
    pub rel_path: String,
    pub bytes: u64,
}

/// Progress of [`Staging::write_files`], one per file (the executor emits WritingProgress).
#[derive(Debug, Clone, Copy)]
pub struct WriteProgress<'a> {
    pub current_file: &'a str,
    pub files_written: usize,
    pub total_files: usize,
    pub bytes: u64,
}

/// The result of a successful [`Staging::place`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// `<out>/node_…`
    pub node_dir: PathBuf,
    /// Relative paths, in write order.
    pub files: Vec<String>,
    pub total_bytes: u64,
    /// An existing node dir was replaced (force).
    pub replaced_existing: bool,
}

/// What [`Staging::cleanup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// The run's staging dir was removed.
    pub removed_run_staging: bool,
    /// Kept on purpose (`keep_failed`, or it holds a node dir that could not be restored).
    pub kept: Option<PathBuf>,
    /// Directories removed by rmdir (`.onex-staging`, directories the run created).
    pub removed_dirs: Vec<PathBuf>,
    /// Problems that did not stop the cleanup.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Staging,
    Placed,
    Done,
}

/// The directories a [`Staging`] works in, opened once by [`Staging::create`]. Every later file
/// operation names one entry relative to one of these descriptors (`openat`, `mkdirat`,
/// `renameat`, `unlinkat`, all without following symlinks), so a path component that is flipped
/// to a symlink after the check cannot redirect a write outside the allowed root.
#[derive(Debug)]
struct Dirs {
    /// `<out>`, reached from its allowed root without following a symlink.
    out: OwnedFd,
    /// `<out>/.onex-staging`
    staging_root: OwnedFd,
    /// `<out>/.onex-staging/<correlation_id>`
    run: OwnedFd,
    /// `<out>/.onex-staging/<correlation_id>/node_…`
    staged: OwnedFd,
}

/// A directory on the way to `<out>` that this run created: its parent (for `rmdir` and the
/// fsync that makes the creation durable) and its name.
#[derive(Debug)]
struct CreatedDir {
    parent: OwnedFd,
    name: String,
    path: PathBuf,
}

/// A run's staging area and the placement of its node dir. Dropping it cleans up (as
/// [`Staging::cleanup`]), so an early return, a panic unwinding or a cancelled task leaves `<out>`
/// as it was.
#[derive(Debug)]
pub struct Staging {
    plan: OutputPlan,
    opts: StagingOptions,
    /// Directories on the way to `<out>` that this run created, outermost first.
    created_dirs: Vec<PathBuf>,
    created: Vec<CreatedDir>,
    /// Set once `prepare` has opened them all.
    dirs: Option<Dirs>,
    /// Directories inside the staged node dir (relative path, descriptor), in creation order
    /// (fsynced before the rename).
    staged_dirs: Vec<(String, OwnedFd)>,
    files: Vec<StagedFile>,
    purged: Vec<PathBuf>,
    state: State,
    /// The run staging holds the user's previous node dir after a failed restore: never delete it.
    preserve_run_staging: bool,
    /// [`Staging::sync_files`] made files and directories durable: placement fsyncs `<out>` too.
    synced: bool,
}

impl Staging {
    /// Prepares staging for `plan`: resolves `<out>` once — from the allowed root it lies in,
    /// creating missing directories (recording what it created) and refusing any symlink below
    /// the root — then creates `.onex-staging` when absent, deletes this run's own leftover
    /// staging (redelivery after a crash), creates `<correlation_id>/node_…`, and purges other
    /// runs' staging dirs older than 24 h. On error everything it created is removed again.
    pub fn create(plan: &OutputPlan, opts: StagingOptions) -> Result<Staging, OutputError> {
        let mut st = Staging {
            plan: plan.clone(),
            opts,
            created_dirs: Vec::new(),
            created: Vec::new(),
            dirs: None,
            staged_dirs: Vec::new(),
            files: Vec::new(),
            purged: Vec::new(),
            state: State::Staging,
            preserve_run_staging: false,
            synced: false,
        };
        // On error `st` is dropped here, which runs the cleanup.
        st.prepare()?;
        Ok(st)
    }

    pub fn plan(&self) -> &OutputPlan {
        &self.plan
    }

    /// The staged node dir (GenerationStarted `staging_dir`).
    pub fn staged_node_dir(&self) -> &Path {
        &self.plan.staged_node_dir
    }

    /// Directories on the way to `<out>` that this run created, outermost first (with symlinks
    /// of the path resolved).
    pub fn created_dirs(&self) -> &[PathBuf] {
        &self.created_dirs
    }

    /// Other runs' stale staging dirs this run removed.
    pub fn purged(&self) -> &[PathBuf] {
        &self.purged
    }

    pub fn files(&self) -> &[StagedFile] {
        &self.files
    }

    fn dirs(&self) -> Result<&Dirs, OutputError> {
        self.dirs.as_ref().ok_or_else(|| {
            OutputError::new(
                OutputErrorCode::FileWriteError,
                "the staging dir was not prepared",
                Some(&self.plan.run_staging),
            )
        })
    }

    fn run_name(&self) -> String {
        self.plan.correlation_id.hyphenated().to_string()
    }

    fn prepare(&mut self) -> Result<(), OutputError> {
        let out_path = self.plan.out_dir.clone();
        let root = self.plan.staging_root.clone();
        let run = self.plan.run_staging.clone();
        let run_name = self.run_name();
        let canonical = canonical_lenient(&out_path).ok_or_else(|| {
            OutputError::new(
                OutputErrorCode::DirectoryNotFound,
                format!("no part of '{}' exists", out_path.display()),
                Some(&out_path),
            )
        })?;
        let roots = canonical_roots(&self.plan.allowed_roots);
        let mut last_err = None;
        for _ in 0..CREATE_RETRIES {
            let out = open_beneath(&canonical, &roots, Some(&mut self.created))?;
            self.created_dirs = self.created.iter().map(|c| c.path.clone()).collect();
            match rfs::mkdirat(&out, STAGING_DIR_NAME, DIR_MODE) {
                Ok(()) | Err(Errno::EXIST) => {}
                // <out> was removed by another run's cleanup between the two steps: start over.
                Err(Errno::NOENT) => {
                    last_err = Some(OutputError::io(
                        "create directory",
                        &root,
                        &Errno::NOENT.into(),
                    ));
                    continue;
                }
                Err(e) => return Err(OutputError::io("create directory", &root, &e.into())),
            }
            let staging_root = match open_dir(&out, STAGING_DIR_NAME) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    last_err = Some(OutputError::io("open", &root, &e));
                    continue;
                }
                Err(e) if is_not_a_dir(&e) => {
                    return Err(OutputError::new(
                        OutputErrorCode::FileWriteError,
                        format!(
                            "'{}' is not a directory (a symlink or a file)",
                            root.display()
                        ),
                        Some(&root),
                    ));
                }
                Err(e) => return Err(OutputError::io("open", &root, &e)),
            };
            // Redelivery after a crash: this run's own leftovers go first (docs/generation.md §5.2) — except a node
            // dir a forced swap had moved out when the crash came: it goes back first.
            self.restore_interrupted_swap(&out, &staging_root, &run_name)?;
            remove_tree_at(staging_root.as_fd(), &run_name)
                .map_err(|e| OutputError::io("remove leftover staging", &run, &e))?;
            match rfs::mkdirat(&staging_root, run_name.as_str(), DIR_MODE) {
                Ok(()) => {}
                // `.onex-staging` was rmdir'ed by a concurrent run's cleanup: recreate it.
                Err(Errno::NOENT) => {
                    last_err = Some(OutputError::io(
                        "create directory",
                        &run,
                        &Errno::NOENT.into(),
                    ));
                    continue;
                }
                Err(Errno::EXIST) => {
                    return Err(OutputError::new(
                        OutputErrorCode::FileWriteError,
                        format!(
                            "staging dir '{}' is being created by another attempt of run {}",
                            run.display(),
                            self.plan.correlation_id
                        ),
                        Some(&run),
                    ));
                }
                Err(e) => return Err(OutputError::io("create directory", &run, &e.into())),
            }
            let run_fd = open_dir(&staging_root, &run_name)
                .map_err(|e| OutputError::io("open", &run, &e))?;
            let staged = self.plan.staged_node_dir.clone();
            let staged_fd = rfs::mkdirat(&run_fd, self.plan.node_dir_name.as_str(), DIR_MODE)
                .map_err(io::Error::from)
                .and_then(|()| open_dir(&run_fd, &self.plan.node_dir_name));
            let staged_fd = match staged_fd {
                Ok(fd) => fd,
                Err(e) => {
                    // Undo what this attempt made; the drop then rmdirs the created dirs.
                    let _ = remove_tree_at(staging_root.as_fd(), &run_name);
                    let _ = rfs::unlinkat(&out, STAGING_DIR_NAME, AtFlags::REMOVEDIR);
                    return Err(OutputError::io("create directory", &staged, &e));
                }
            };
            self.dirs = Some(Dirs {
                out,
                staging_root,
                run: run_fd,
                staged: staged_fd,
            });
            self.purge_stale();
            return Ok(());
        }
        Err(last_err.unwrap_or_else(|| {
            OutputError::new(
                OutputErrorCode::FileWriteError,
                format!("could not create '{}'", run.display()),
                Some(&run),
            )
        }))
    }

    /// Removes other runs' staging dirs (named by a UUID) whose mtime is older than 24 h.
    /// Failures are logged, never fatal: another run may be purging the same dir.
    fn purge_stale(&mut self) {
        let Some(dirs) = self.dirs.as_ref() else {
            return;
        };
        let Ok(names) = list_dir(dirs.staging_root.as_fd()) else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let own = self.plan.correlation_id;
        let mut purged = Vec::new();
        for name in names {
            let Some(id) = Uuid::parse_str(&name).ok() else {
                continue;
            };
            if id == own {
                continue;
            }
            let Ok(st) = rfs::statat(&dirs.staging_root, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                continue;
            }
            // `st_mtime` is i64 here but narrower on some targets.
            #[allow(clippy::useless_conversion)]
            let age = now.saturating_sub(i64::from(st.st_mtime));
            if age <= STALE_STAGING_AGE.as_secs() as i64 {
                continue;
            }
            let path = self.plan.staging_root.join(&name);
            match remove_tree_at(dirs.staging_root.as_fd(), &name) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "purged stale staging dir");
                    purged.push(path);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not purge stale staging dir")
                }
            }
        }
        self.purged.extend(purged);
    }

    /// Writes one file into the staged node dir (`rel_path` relative to it, `/`-separated; no
    /// absolute path, `.`/`..` or symlinked component; each file written once), creating its
    /// parent directories, and fsyncs it when `fsync` is on.
    pub fn write_file(&mut self, rel_path: &str, bytes: &[u8]) -> Result<&StagedFile, OutputError> {
        if self.state != State::Staging {
            return Err(OutputError::new(
                OutputErrorCode::FileWriteError,
                format!(
                    "cannot write '{rel_path}': the staging dir was already placed or cleaned up"
                ),
                None,
            )
            .with_file(rel_path));
        }
        let parts = split_rel_path(rel_path).map_err(|m| {
            OutputError::new(OutputErrorCode::FileWriteError, m, None).with_file(rel_path)
        })?;
        let (file_name, dirs) = parts.split_last().expect("split_rel_path returns ≥ 1 part");
        let parent = self.staged_parent(rel_path, dirs)?;
        let dir_fd = match parent {
            Some(i) => self.staged_dirs[i].1.as_fd(),
            None => self.dirs()?.staged.as_fd(),
        };
        let path = self.plan.staged_node_dir.join(rel_path);
        // O_EXCL | O_NOFOLLOW: never follows a symlink planted at the target, never overwrites.
        let fd = rfs::openat(
            dir_fd,
            *file_name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            FILE_MODE,
        )
        .map_err(|e| {
            if e == Errno::EXIST {
                let what = match rfs::statat(dir_fd, *file_name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        "a symlink is in its place"
                    }
                    _ => "it is written twice",
                };
                OutputError::new(
                    OutputErrorCode::FileWriteError,
                    format!("cannot write '{rel_path}': {what}"),
                    Some(&path),
                )
            } else {
                OutputError::io("create file", &path, &e.into())
            }
            .with_file(rel_path)
        })?;
        let mut f = File::from(fd);
        f.write_all(bytes)
            .map_err(|e| OutputError::io("write", &path, &e).with_file(rel_path))?;
        if self.opts.fsync {
            f.sync_all()
                .map_err(|e| OutputError::io("fsync", &path, &e).with_file(rel_path))?;
        }
        self.files.push(StagedFile {
            rel_path: parts.join("/"),
            bytes: bytes.len() as u64,
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// The directory `dirs` (inside the staged node dir) as an index into `staged_dirs`, created
    /// as needed; `None` is the staged node dir itself.
    fn staged_parent(
        &mut self,
        rel_path: &str,
        dirs: &[&str],
    ) -> Result<Option<usize>, OutputError> {
        let mut cur: Option<usize> = None;
        let mut rel = String::new();
        for d in dirs {
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(d);
            if let Some(i) = self.staged_dirs.iter().position(|(r, _)| *r == rel) {
                cur = Some(i);
                continue;
            }
            let path = self.plan.staged_node_dir.join(&rel);
            let parent = match cur {
                Some(i) => self.staged_dirs[i].1.as_fd(),
                None => self.dirs()?.staged.as_fd(),
            };
            match rfs::mkdirat(parent, *d, DIR_MODE) {
                // An entry already there is used only if it is a real directory (below).
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => {
                    return Err(
                        OutputError::io("create directory", &path, &e.into()).with_file(rel_path)
                    );
                }
            }
            let fd = open_dir(parent, d).map_err(|e| {
                if is_not_a_dir(&e) {
                    OutputError::new(
                        OutputErrorCode::FileWriteError,
                        format!(
                            "cannot write '{rel_path}': '{}' is a symlink or a file, not a directory",
                            path.display()
                        ),
                        Some(&path),
                    )
                } else {
                    OutputError::io("open", &path, &e)
                }
                .with_file(rel_path)
            })?;
            self.staged_dirs.push((rel.clone(), fd));
            cur = Some(self.staged_dirs.len() - 1);
        }
        Ok(cur)
    }

    /// Writes `files` in order, calling `on_progress` after each (WritingProgress).
    pub fn write_files<P: AsRef<str>, B: AsRef<[u8]>>(
        &mut self,
        files: &[(P, B)],
        mut on_progress: impl FnMut(&WriteProgress<'_>),
    ) -> Result<(), OutputError> {
        let total = files.len();
        for (i, (rel, bytes)) in files.iter().enumerate() {
            let written = self.write_file(rel.as_ref(), bytes.as_ref())?;
            let bytes = written.bytes;
            on_progress(&WriteProgress {
                current_file: rel.as_ref(),
                files_written: i + 1,
                total_files: total,
                bytes,
            });
        }
        Ok(())
    }

    /// Makes the staged files durable when they were written with `fsync` off (the generation
    /// stage stages them fast; the writing stage pays for durability once they passed
    /// post-validation): fsyncs each file, calling `on_progress` after each (WritingProgress),
    /// then the staged directories. [`Staging::place`] then also fsyncs `<out>`, as with `fsync`
    /// on.
    pub fn sync_files(
        &mut self,
        mut on_progress: impl FnMut(&WriteProgress<'_>),
    ) -> Result<(), OutputError> {
        if self.state != State::Staging {
            return Err(OutputError::new(
                OutputErrorCode::FileWriteError,
                "cannot sync: the staging dir was already placed or cleaned up",
                Some(&self.plan.staged_node_dir),
            ));
        }
        let staged = self.dirs()?.staged.as_fd();
        let total = self.files.len();
        for (i, f) in self.files.iter().enumerate() {
            let path = self.plan.staged_node_dir.join(&f.rel_path);
            let (dir, name) = match f.rel_path.rsplit_once('/') {
                Some((d, n)) => match self.staged_dirs.iter().find(|(r, _)| r == d) {
                    Some((_, fd)) => (fd.as_fd(), n),
                    None => {
                        return Err(OutputError::new(
                            OutputErrorCode::FileWriteError,
                            format!("cannot sync '{}': its directory was not staged", f.rel_path),
                            Some(&path),
                        ));
                    }
                },
                None => (staged, f.rel_path.as_str()),
            };
            rfs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .and_then(rfs::fsync)
            .map_err(|e| OutputError::io("fsync", &path, &e.into()).with_file(&f.rel_path))?;
            on_progress(&WriteProgress {
                current_file: &f.rel_path,
                files_written: i + 1,
                total_files: total,
                bytes: f.bytes,
            });
        }
        self.sync_staged_dirs()?;
        self.synced = true;
        Ok(())
    }

    fn sync_staged_dirs(&self) -> Result<(), OutputError> {
        // Deepest first: not required (every entry is fsynced before the rename), but it is the
        // order in which the entries must become durable.
        for (rel, fd) in self.staged_dirs.iter().rev() {
            rfs::fsync(fd).map_err(|e| {
                OutputError::io(
                    "fsync directory",
                    &self.plan.staged_node_dir.join(rel),
                    &e.into(),
                )
            })?;
        }
        rfs::fsync(&self.dirs()?.staged)
            .map_err(|e| OutputError::io("fsync directory", &self.plan.staged_node_dir, &e.into()))
    }

    /// Moves the staged node dir to `<out>/node_…`: fsyncs the staged directories, renames
    /// without replacing (a target that appeared meanwhile → OUTPUT_EXISTS), or with `force`
    /// swaps the existing dir out (restored if moving the new one in fails: FILE_WRITE_ERROR with
    /// `rollback_performed`), then fsyncs `<out>`.
    pub fn place(&mut self) -> Result<Placed, OutputError> {
        if self.state != State::Staging {
            return Err(OutputError::new(
                OutputErrorCode::FileWriteError,
                "the staging dir was already placed or cleaned up",
                Some(&self.plan.staged_node_dir),
            ));
        }
        if self.files.is_empty() {
            return Err(OutputError::new(
                OutputErrorCode::FileWriteError,
                "nothing staged to place",
                Some(&self.plan.staged_node_dir),
            ));
        }
        let target = self.plan.node_dir.clone();
        if self.opts.fsync && !self.synced {
            self.sync_staged_dirs()?;
        }
        let dirs = self.dirs()?;
        let name = self.plan.node_dir_name.as_str();
        let exists = match rfs::statat(&dirs.out, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => true,
            Err(Errno::NOENT) => false,
            Err(e) => return Err(OutputError::io("inspect", &target, &e.into())),
        };
        let mut replaced_existing = false;
        if !exists {
            self.rename_into_place()?;
        } else if !self.plan.force {
            return Err(exists_error(&target));
        } else {
            replaced_existing = self.replace()?;
        }
        if self.opts.fsync || self.synced {
            // The rename is durable once <out> is, and <out> itself once the parents of the
            // directories this run created are.
            let dirs = self.dirs()?;
            rfs::fsync(&dirs.out)
                .map_err(|e| OutputError::io("fsync directory", &self.plan.out_dir, &e.into()))?;
            for (c, path) in self.created.iter().zip(&self.created_dirs) {
                rfs::fsync(&c.parent).map_err(|e| {
                    OutputError::io("fsync directory", path.parent().unwrap_or(path), &e.into())
                })?;
            }
        }
        self.state = State::Placed;
        Ok(Placed {
            node_dir: target,
            files: self.files.iter().map(|f| f.rel_path.clone()).collect(),
            total_bytes: self.files.iter().map(|f| f.bytes).sum(),
            replaced_existing,
        })
    }

    /// Takes the placed node dir back out of `<out>` (a stage after writing failed): it moves
    /// into the run's staging and is deleted there, through the same directory descriptors.
    pub fn unplace(&mut self) -> io::Result<()> {
        let dirs = self
            .dirs
            .as_ref()
            .ok_or_else(|| io::Error::other("staging not prepared"))?;
        const SLOT: &str = "rolled-back";
        rfs::renameat(&dirs.out, self.plan.node_dir_name.as_str(), &dirs.run, SLOT)?;
        remove_tree_at(dirs.run.as_fd(), SLOT)
    }

    fn rename_into_place(&self) -> Result<(), OutputError> {
        let dirs = self.dirs()?;
        let name = self.plan.node_dir_name.as_str();
        self.rename((&dirs.run, name), (&dirs.out, name), &dirs.out)
            .map_err(|e| {
                if is_exists(&e) {
                    exists_error(&self.plan.node_dir)
                } else {
                    OutputError::io(
                        &format!("rename '{}' to", self.plan.staged_node_dir.display()),
                        &self.plan.node_dir,
                        &e,
                    )
                }
            })
    }

    fn rename(
        &self,
        from: (&OwnedFd, &str),
        to: (&OwnedFd, &str),
        lock_dir: &OwnedFd,
    ) -> io::Result<()> {
        if self.opts.fault == Some(Fault::NoRenameNoreplace) {
            return locked_rename(from, to, lock_dir);
        }
        rename_noreplace(from, to, lock_dir)
    }

    /// Where a forced swap parks the node dir it replaces (inside the run staging).
    fn old_slot_name(&self) -> String {
        format!("replaced-{}", self.plan.node_dir_name)
    }

    /// A crash between moving the old node dir out and moving the new one in leaves the user's
    /// dir in our staging and no node dir in `<out>`: put it back before the leftovers are
    /// deleted, so a redelivered run starts from `<out>` as the user had it.
    fn restore_interrupted_swap(
        &self,
        out: &OwnedFd,
        staging_root: &OwnedFd,
        run_name: &str,
    ) -> Result<(), OutputError> {
        let run = match open_dir(staging_root, run_name) {
            Ok(fd) => fd,
            Err(_) => return Ok(()),
        };
        let slot = self.old_slot_name();
        if rfs::statat(&run, slot.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_err() {
            return Ok(());
        }
        let name = self.plan.node_dir_name.as_str();
        match self.rename((&run, &slot), (out, name), out) {
            Ok(()) => {
                tracing::warn!(
                    node_dir = %self.plan.node_dir.display(),
                    "restored the node dir an interrupted forced replace had moved out"
                );
                Ok(())
            }
            // A node dir is in place (the swap completed, or someone wrote one): the parked
            // copy is the replaced one and goes with the leftovers.
            Err(e) if is_exists(&e) => Ok(()),
            Err(e) => Err(OutputError::io(
                "restore the node dir parked by an interrupted replace:",
                &self.plan.run_staging.join(&slot),
                &e,
            )),
        }
    }

    /// Force: old dir → run staging, new dir → target, delete old. Returns whether an old dir was
    /// actually replaced (it may have vanished meanwhile).
    fn replace(&mut self) -> Result<bool, OutputError> {
        let target = self.plan.node_dir.clone();
        let old_slot = self.old_slot_name();
        let old_slot_path = self.plan.run_staging.join(&old_slot);
        let name = self.plan.node_dir_name.clone();
        let dirs = self.dirs()?;
        match self.rename((&dirs.out, &name), (&dirs.run, &old_slot), &dirs.run) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Removed by someone else meanwhile: nothing to replace.
                self.rename_into_place()?;
                return Ok(false);
            }
            Err(e) => {
                return Err(OutputError::io(
                    "move the existing node dir out of the way:",
                    &target,
                    &e,
                ));
            }
        }
        let moved_in = match self.opts.fault {
            Some(Fault::ReplaceMoveIn | Fault::ReplaceMoveInAndRestore) => {
                Err(io::Error::other("injected fault: move-in failed"))
            }
            _ => self.rename((&dirs.run, &name), (&dirs.out, &name), &dirs.out),
        };
        if let Err(e) = moved_in {
            let restored = match self.opts.fault {
                Some(Fault::ReplaceMoveInAndRestore) => {
                    Err(io::Error::other("injected fault: restore failed"))
                }
                _ => self.rename((&dirs.run, &old_slot), (&dirs.out, &name), &dirs.out),
            };
            return Err(match restored {
                Ok(()) => OutputError {
                    code: OutputErrorCode::FileWriteError,
                    message: format!(
                        "replacing '{}' failed: {e}; the previous directory was restored",
                        target.display()
                    ),
                    path: Some(target),
                    failed_file: None,
                    rollback_performed: true,
                },
                Err(e2) => {
                    // The user's previous node dir now lives only in our staging: keep it.
                    self.preserve_run_staging = true;
                    OutputError {
                        code: OutputErrorCode::FileWriteError,
                        message: format!(
                            "replacing '{}' failed: {e}; restoring the previous directory failed \
                             too: {e2}; it is kept at '{}'",
                            target.display(),
                            old_slot_path.display()
                        ),
                        path: Some(old_slot_path),
                        failed_file: None,
                        rollback_performed: false,
                    }
                }
            });
        }
        if let Err(e) = remove_tree_at(dirs.run.as_fd(), &old_slot) {
            // Not fatal: the new node dir is in place; cleanup removes the run staging again.
            tracing::warn!(path = %old_slot_path.display(), error = %e, "could not delete the replaced node dir");
        }
        Ok(true)
    }

    /// Removes the run's own staging dir (unless kept), then rmdirs `.onex-staging` and the
    /// directories this run created — each only if empty. Idempotent; also run on drop.
    pub fn cleanup(&mut self) -> CleanupReport {
        let mut report = CleanupReport::default();
        if self.state == State::Done {
            return report;
        }
        let failed = self.state != State::Placed;
        self.state = State::Done;
        let run = &self.plan.run_staging;
        let run_name = self.run_name();
        if let Some(dirs) = &self.dirs {
            if self.preserve_run_staging || (failed && self.opts.keep_failed) {
                if rfs::statat(
                    &dirs.staging_root,
                    run_name.as_str(),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .is_ok()
                {
                    tracing::warn!(path = %run.display(), "staging dir kept");
                    report.kept = Some(run.clone());
                }
                return report;
            }
            match remove_tree_at(dirs.staging_root.as_fd(), &run_name) {
                Ok(()) => report.removed_run_staging = true,
                Err(e) => report
                    .problems
                    .push(format!("cannot remove '{}': {e}", run.display())),
            }
            // rmdir fails on a non-empty dir: another run's staging or files keep it.
            if rfs::unlinkat(&dirs.out, STAGING_DIR_NAME, AtFlags::REMOVEDIR).is_ok() {
                report.removed_dirs.push(self.plan.staging_root.clone());
            }
        }
        for (c, path) in self.created.iter().zip(&self.created_dirs).rev() {
            if rfs::unlinkat(&c.parent, c.name.as_str(), AtFlags::REMOVEDIR).is_ok() {
                report.removed_dirs.push(path.clone());
            }
        }
        report
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let report = self.cleanup();
        for p in &report.problems {
            tracing::warn!("staging cleanup: {p}");
        }
    }
}

fn exists_error(target: &Path) -> OutputError {
    OutputError::new(
        OutputErrorCode::OutputExists,
        format!("'{}' exists", target.display()),
        Some(target),
    )
}

fn is_exists(e: &io::Error) -> bool {
    // rename(2) reports a non-empty target directory as ENOTEMPTY (or EEXIST).
    e.kind() == io::ErrorKind::AlreadyExists || e.kind() == io::ErrorKind::DirectoryNotEmpty
}

/// ENOTDIR, or ELOOP from `O_NOFOLLOW` meeting a symlink.
fn is_not_a_dir(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotADirectory || e.raw_os_error() == Some(Errno::LOOP.raw_os_error())
}

/// Splits a relative `/`-separated path into plain components, refusing anything that could
/// leave the staged node dir.
fn split_rel_path(rel: &str) -> Result<Vec<&str>, String> {
    if rel.is_empty() {
        return Err("empty file path".to_string());
    }
    if rel.contains('\0') {
        return Err(format!("file path '{}' contains NUL", rel.escape_debug()));
    }
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(format!("file path '{rel}' is absolute"));
    }
    let parts: Vec<&str> = rel.split('/').collect();
    for p in &parts {
        match *p {
            "" => return Err(format!("file path '{rel}' has an empty component")),
            "." | ".." => return Err(format!("file path '{rel}': '{p}' not allowed")),
            _ => {}
        }
    }
    Ok(parts)
}

const DIR_MODE: Mode = Mode::from_raw_mode(0o777);
const FILE_MODE: Mode = Mode::from_raw_mode(0o666);

/// Opens the directory `name` in `dir` without following a symlink (ELOOP / ENOTDIR otherwise).
fn open_dir(dir: impl AsFd, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The allowed roots with symlinks resolved as far as they exist.
fn canonical_roots(roots: &[PathBuf]) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|r| canonical_lenient(r).unwrap_or_else(|| r.clone()))
        .collect()
}

/// Opens the directory `target` (absolute, canonical: no symlink, `.` or `..`) from the allowed
/// root it lies in, never following a symlink below that root: the root — or, when the root does
/// not exist yet, its nearest existing ancestor — is opened by path (the anchor G6 checked), and
/// every component after it with `O_NOFOLLOW`, so a component flipped to a symlink meanwhile
/// fails the run instead of redirecting it. `target` may also be an ancestor of a root that does
/// not exist yet (G6's probe of where the root will be created). With `created`, missing
/// components are made with `mkdirat` and recorded; without, they are an error.
fn open_beneath(
    target: &Path,
    roots: &[PathBuf],
    mut created: Option<&mut Vec<CreatedDir>>,
) -> Result<OwnedFd, OutputError> {
    let base = roots.iter().find_map(|r| {
        if target.starts_with(r) {
            Some(r.as_path())
        } else if r.starts_with(target) {
            Some(target)
        } else {
            None
        }
    });
    let Some(base) = base else {
        return Err(OutputError::new(
            OutputErrorCode::OutputOutsideRoot,
            format!(
                "'{}' is outside the allowed roots ({})",
                target.display(),
                roots
                    .iter()
                    .map(|r| format!("'{}'", r.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(target),
        ));
    };
    let (anchor, _) = nearest_existing(base).ok_or_else(|| {
        OutputError::new(
            OutputErrorCode::DirectoryNotFound,
            format!("no part of '{}' exists", base.display()),
            Some(base),
        )
    })?;
    let mut cur = rfs::open(
        &anchor,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| OutputError::io("open", &anchor, &e.into()))?;
    let mut path = anchor.clone();
    let rest = target.strip_prefix(&anchor).map_err(|_| {
        OutputError::new(
            OutputErrorCode::OutputOutsideRoot,
            format!("'{}' is not below '{}'", target.display(), anchor.display()),
            Some(target),
        )
    })?;
    for comp in rest.components() {
        let Component::Normal(name) = comp else {
            return Err(OutputError::new(
                OutputErrorCode::OutputOutsideRoot,
                format!(
                    "'{}': '{}' not allowed",
                    target.display(),
                    comp.as_os_str().display()
                ),
                Some(target),
            ));
        };
        let Some(name) = name.to_str() else {
            return Err(OutputError::new(
                OutputErrorCode::DirectoryNotFound,
                format!("'{}' is not valid UTF-8", target.display()),
                Some(target),
            ));
        };
        path.push(name);
        let not_a_dir = |path: &Path| {
            OutputError::new(
                OutputErrorCode::DirectoryNotFound,
                format!(
                    "'{}' is not a directory (a symlink or a file)",
                    path.display()
                ),
                Some(path),
            )
        };
        cur = match open_dir(&cur, name) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound && created.is_some() => {
                match rfs::mkdirat(&cur, name, DIR_MODE) {
                    Ok(()) => {
                        let parent = cur
                            .try_clone()
                            .map_err(|e| OutputError::io("open", &path, &e))?;
                        if let Some(c) = created.as_deref_mut() {
                            c.push(CreatedDir {
                                parent,
                                name: name.to_string(),
                                path: path.clone(),
                            });
                        }
                    }
                    // Created concurrently by someone else: not ours to remove.
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(OutputError::io("create directory", &path, &e.into())),
                }
                match open_dir(&cur, name) {
                    Ok(fd) => fd,
                    Err(e) if is_not_a_dir(&e) => return Err(not_a_dir(&path)),
                    Err(e) => return Err(OutputError::io("open", &path, &e)),
                }
            }
            Err(e) if is_not_a_dir(&e) => return Err(not_a_dir(&path)),
            Err(e) => return Err(OutputError::io("open", &path, &e)),
        };
    }
    Ok(cur)
}

/// The names in a directory, `.` and `..` left out.
fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        // Names that are not UTF-8 were not written by onex; they are removed all the same.
        names.push(String::from_utf8_lossy(name).into_owned());
    }
    Ok(names)
}

/// `rm -r dir/name` through descriptors: "already gone" is success, symlinks are removed, never
/// followed.
fn remove_tree_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
        Ok(st) => st,
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = match open_dir(dir, name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            r => r?,
        };
        for child in list_dir(sub.as_fd())? {
            remove_tree_at(sub.as_fd(), &child)?;
        }
        match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    } else {
        match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Renames `from` to `to` unless `to` exists (then AlreadyExists / DirectoryNotEmpty), atomically:
/// `renameat2(RENAME_NOREPLACE)` on Linux; where the file system lacks it (EINVAL), or on other
/// systems, an exclusive flock on `lock_dir` (the directory receiving the entry, shared by every
/// onex run) around check + rename. Locking the directory itself leaves no lock file behind,
/// which a lock file would (or would race when removed).
fn rename_noreplace(
    from: (&OwnedFd, &str),
    to: (&OwnedFd, &str),
    lock_dir: &OwnedFd,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{RenameFlags, renameat_with};
        match renameat_with(from.0, from.1, to.0, to.1, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    locked_rename(from, to, lock_dir)
}

fn locked_rename(
    from: (&OwnedFd, &str),
    to: (&OwnedFd, &str),
    lock_dir: &OwnedFd,
) -> io::Result<()> {
    use rustix::fs::{FlockOperation, flock};
    flock(lock_dir, FlockOperation::LockExclusive)?;
    let result = match rfs::statat(to.0, to.1, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("'{}' exists", to.1),
        )),
        Err(Errno::NOENT) => rfs::renameat(from.0, from.1, to.0, to.1).map_err(io::Error::from),
        Err(e) => Err(e.into()),
    };
    // The lock lives as long as the descriptor (shared by the whole run): release it here.
    let _ = flock(lock_dir, FlockOperation::Unlock);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_paths_that_escape_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\0b",
        ] {
            assert!(split_rel_path(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            split_rel_path("v1_0_0/models/m.py").unwrap(),
            ["v1_0_0", "models", "m.py"]
        );
    }

    #[test]
    fn node_dir_name_must_be_one_component() {
        let id = Uuid::new_v4();
        for bad in ["", ".", "..", "a/b", "/abs", ".hidden", "a\0"] {
            let e = plan(Path::new("/tmp/x"), bad, id, false, &[]).unwrap_err();
            assert_eq!(e.code, OutputErrorCode::OutputOutsideRoot, "{bad:?}");
        }
    }

    #[test]
    fn plan_normalises_but_keeps_parent_components() {
        let id = Uuid::new_v4();
        let p = plan(Path::new("/a/./b//c/../d/"), "node_x", id, false, &[]).unwrap();
        assert_eq!(p.out_dir, PathBuf::from("/a/b/c/../d"));
        assert_eq!(p.node_dir, PathBuf::from("/a/b/c/../d/node_x"));
        assert_eq!(
            p.staged_node_dir,
            PathBuf::from(format!("/a/b/c/../d/.onex-staging/{id}/node_x"))
        );
    }

    #[test]
    fn plan_errors_become_g6_failures() {
        let e = plan(Path::new("/tmp"), "a/b", Uuid::new_v4(), false, &[]).unwrap_err();
        let g = G6Outcome::from_plan_error(&e);
        assert_eq!(g.gate.status, GateStatus::Fail);
        assert_eq!(g.gate.error_code.as_deref(), Some("OUTPUT_OUTSIDE_ROOT"));
        let e = plan(Path::new(""), "node_x", Uuid::new_v4(), false, &[]).unwrap_err();
        let g = G6Outcome::from_plan_error(&e);
        assert_eq!(g.gate.error_code.as_deref(), Some("OUTPUT_NOT_WRITABLE"));
        assert!(
            g.gate.message.starts_with("not writable: "),
            "{}",
            g.gate.message
        );
        assert!(!g.gate.recovery_suggestions.is_empty());
    }

    #[test]
    fn roots_that_do_not_exist_yet_resolve_through_their_existing_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let root = tmp.path().join("link/not/yet");
        let canon = canonical_lenient(&root).unwrap();
        assert_eq!(canon, fs::canonicalize(&real).unwrap().join("not/yet"));
        let p = plan(
            &real.join("not/yet/out"),
            "node_x",
            Uuid::new_v4(),
            false,
            &[root],
        )
        .unwrap();
        assert!(g6_check(&p).passed());
    }

    #[test]
    fn io_errors_map_to_writing_codes() {
        let c = |k| OutputErrorCode::from_io(&io::Error::from(k));
        assert_eq!(
            c(io::ErrorKind::PermissionDenied),
            OutputErrorCode::PermissionDenied
        );
        assert_eq!(c(io::ErrorKind::StorageFull), OutputErrorCode::DiskFull);
        assert_eq!(
            c(io::ErrorKind::NotFound),
            OutputErrorCode::DirectoryNotFound
        );
        assert_eq!(c(io::ErrorKind::Other), OutputErrorCode::FileWriteError);
        assert_eq!(
            OutputErrorCode::from_io(&io::Error::from_raw_os_error(28)),
            OutputErrorCode::DiskFull
        );
    }
}
