//! The raw contract document: a `serde_json::Value` after `!include` / legacy `$ref`
//! resolution, plus a span map from JSON pointer to file:line:col ([`SourceDoc`]).
//!
//! Every rule works on `value` with JSON pointers and asks [`SourceDoc::locate`] where a node
//! came from; nodes that came from an included file keep that file's path. Include rules
//! (docs/dialects.md §7, ONEX068/080–085) are enforced here, while the value is built.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::codes;
use super::yaml::{self, YKind, YNode};
use crate::diag::{Diagnostic, Pos};

/// Largest contract file read (docs/dialects.md §1.2, ONEX001).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest included fragment (ONEX084).
pub const MAX_INCLUDE_BYTES: u64 = 1024 * 1024;
/// Deepest include chain (ONEX083).
pub const MAX_INCLUDE_DEPTH: usize = 10;
/// Most includes resolved for one document, repeats counted (ONEX086): 10 files each including
/// the next 10 times would otherwise resolve 10^10 includes.
pub const MAX_INCLUDES: usize = 1_000;

/// Where a node came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the node came from (an included file keeps its own path).
    pub path: PathBuf,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy)]
struct SpanEntry {
    file: u32,
    pos: Pos,
    /// Position of the mapping key whose value this node is, when it is one.
    key_pos: Option<Pos>,
    /// File of the key (differs from `file` for an included value).
    key_file: u32,
}

/// JSON pointer → location, plus the text of every file that contributed (for carets).
#[derive(Debug, Clone, Default)]
pub struct SpanMap {
    files: Vec<PathBuf>,
    sources: Vec<Arc<str>>,
    map: HashMap<String, SpanEntry>,
}

/// A loaded contract document.
#[derive(Debug, Clone)]
pub struct SourceDoc {
    /// The top-level file.
    pub path: PathBuf,
    /// The document after `!include` / `$ref` resolution; mapping keys are strings. Unknown keys
    /// are kept.
    pub value: Value,
    spans: SpanMap,
}

impl SourceDoc {
    /// Location of the node at `pointer`, falling back to the nearest ancestor that has one
    /// (and finally to 1:1 of the top-level file).
    pub fn locate(&self, pointer: &str) -> Location {
        match self.entry(pointer) {
            Some(e) => self.loc(e.file, e.pos),
            None => Location {
                path: self.path.clone(),
                pos: Pos { line: 1, column: 1 },
            },
        }
    }

    /// Location of the mapping key holding the node at `pointer` (e.g. to flag a key that should
    /// not be there); the node's own location when it is no mapping value.
    pub fn locate_key(&self, pointer: &str) -> Location {
        match self.spans.map.get(pointer) {
            Some(SpanEntry {
                key_pos: Some(k),
                key_file,
                ..
            }) => self.loc(*key_file, *k),
            _ => self.locate(pointer),
        }
    }

    /// The node at `pointer` (RFC 6901).
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    /// The text of a file that contributed to this document (the top-level or an included file).
    pub fn source_text(&self, path: &Path) -> Option<&str> {
        self.spans
            .files
            .iter()
            .position(|p| p == path)
            .map(|i| &*self.spans.sources[i])
    }

    /// Every file that contributed, the top-level file first.
    pub fn files(&self) -> &[PathBuf] {
        &self.spans.files
    }

    fn entry(&self, pointer: &str) -> Option<&SpanEntry> {
        let mut p = pointer;
        loop {
            if let Some(e) = self.spans.map.get(p) {
                return Some(e);
            }
            if p.is_empty() {
                return None;
            }
            p = match p.rfind('/') {
                Some(i) => &p[..i],
                None => "",
            };
        }
    }

    fn loc(&self, file: u32, pos: Pos) -> Location {
        Location {
            path: self
                .spans
                .files
                .get(file as usize)
                .cloned()
                .unwrap_or_else(|| self.path.clone()),
            pos,
        }
    }
}

/// Loader options.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// `!include` and `$ref` following (false = `--no-include`, plain YAML).
    pub include: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { include: true }
    }
}

/// Result of loading one file: the document when it parsed, and every parse-level finding.
#[derive(Debug, Default)]
pub struct Loaded {
    pub doc: Option<SourceDoc>,
    /// True when the file holds no document (empty or comments only).
    pub empty: bool,
    pub diagnostics: Vec<Diagnostic>,
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    if s.contains(['~', '/']) {
        s.replace('~', "~0").replace('/', "~1")
    } else {
        s.to_string()
    }
}

/// Reads and loads `path` (ONEX001 when unreadable, not UTF-8 or larger than 10 MiB).
pub fn load_file(path: &Path, opts: LoadOptions) -> Loaded {
    let at_start = Location {
        path: path.to_path_buf(),
        pos: Pos { line: 1, column: 1 },
    };
    let fail = |msg: String| Loaded {
        doc: None,
        empty: false,
        diagnostics: vec![codes::make("ONEX001", &at_start, "", msg)],
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return fail(format!(
                "file is {} bytes, larger than the 10 MiB limit",
                m.len()
            ));
        }
        Ok(m) if m.is_dir() => return fail("is a directory, not a file".into()),
        // A FIFO or device would block or never end: only regular files are read.
        Ok(m) if !m.is_file() => return fail("is not a regular file".into()),
        Ok(_) => {}
        Err(e) => return fail(format!("cannot read file: {e}")),
    }
    // Bounded read: a file that grows after the size check still cannot exceed the limit.
    let bytes = match read_bounded(path, MAX_FILE_BYTES) {
        Ok(Some(b)) => b,
        Ok(None) => return fail("file is larger than the 10 MiB limit".into()),
        Err(e) => return fail(format!("cannot read file: {e}")),
    };
    match String::from_utf8(bytes) {
        Ok(text) => load_str(path, &text, opts),
        Err(e) => {
            let off = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let pos = pos_at_byte(bytes, off);
            let enc = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
                " (looks like UTF-16)"
            } else {
                ""
            };
            let loc = Location {
                path: path.to_path_buf(),
                pos,
            };
            Loaded {
                doc: None,
                empty: false,
                diagnostics: vec![codes::make(
                    "ONEX001",
                    &loc,
                    "",
                    format!("file is not valid UTF-8{enc}: invalid byte at offset {off}"),
                )],
            }
        }
    }
}

/// Reads at most `limit` bytes; `None` when the file is longer.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

fn pos_at_byte(bytes: &[u8], off: usize) -> Pos {
    let before = &bytes[..off.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// Loads YAML `text` as if it were the file `path` (includes are resolved relative to `path`).
pub fn load_str(path: &Path, text: &str, opts: LoadOptions) -> Loaded {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = yaml::parse(text, opts.include);
    let mut ld = IncludeLoader {
        opts,
        base: path.parent().map(canonical_dir).unwrap_or_default(),
        spans: SpanMap {
            files: vec![path.to_path_buf()],
            sources: vec![Arc::from(text)],
            map: HashMap::new(),
        },
        chain: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())],
        diagnostics: Vec::new(),
        budget: Budget {
            nodes: parsed.root.as_ref().map_or(0, |r| r.size),
            bytes: text.len(),
            includes: 0,
            exhausted: false,
        },
    };
    ld.push_issues(0, "", parsed.issues);
    let Some(root) = parsed.root else {
        return Loaded {
            doc: None,
            empty: parsed.empty,
            diagnostics: ld.diagnostics,
        };
    };
    let mut ptr = String::new();
    let value = ld.convert(root, &mut ptr, 0, None, 0);
    Loaded {
        doc: Some(SourceDoc {
            path: path.to_path_buf(),
            value,
            spans: ld.spans,
        }),
        empty: parsed.empty,
        diagnostics: ld.diagnostics,
    }
}

fn canonical_dir(dir: &Path) -> PathBuf {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf())
}

struct IncludeLoader {
    opts: LoadOptions,
    /// Canonical directory of the top-level file: every include must resolve inside it.
    base: PathBuf,
    spans: SpanMap,
    /// Canonical paths of the files being included, outermost first (cycle detection, depth).
    chain: Vec<PathBuf>,
    diagnostics: Vec<Diagnostic>,
    budget: Budget,
}

/// What the whole document (the top-level file and every include, repeats counted) has
/// expanded to so far, against the limits of ONEX086.
struct Budget {
    nodes: usize,
    bytes: usize,
    includes: usize,
    /// Reported once; every include after that resolves to null without reading a file.
    exhausted: bool,
}

impl Budget {
    /// Charges one include of `nodes` nodes and `bytes` bytes; the exceeded limit, if any.
    fn charge(&mut self, nodes: usize, bytes: usize) -> Option<String> {
        self.includes += 1;
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        let over = if self.includes > MAX_INCLUDES {
            Some(format!("more than {MAX_INCLUDES} includes"))
        } else if self.nodes > yaml::MAX_NODES {
            Some(format!("more than {} nodes", yaml::MAX_NODES))
        } else if self.bytes > yaml::MAX_EXPANDED_BYTES {
            Some(format!(
                "more than {} MiB of text",
                yaml::MAX_EXPANDED_BYTES >> 20
            ))
        } else {
            None
        };
        if over.is_some() {
            self.exhausted = true;
        }
        over
    }
}

impl IncludeLoader {
    fn file_loc(&self, file: u32, pos: Pos) -> Location {
        Location {
            path: self.spans.files[file as usize].clone(),
            pos,
        }
    }

    /// Attaches parse-level issues of `file`, whose root sits at pointer `prefix` of the document.
    fn push_issues(&mut self, file: u32, prefix: &str, issues: Vec<yaml::YamlIssue>) {
        for i in issues {
            let loc = self.file_loc(file, i.pos);
            let pointer = format!("{prefix}{}", i.pointer);
            self.diagnostics
                .push(codes::make(i.code, &loc, &pointer, i.message));
        }
    }

    fn emit(&mut self, code: &str, file: u32, pos: Pos, ptr: &str, msg: String) {
        let loc = self.file_loc(file, pos);
        self.diagnostics.push(codes::make(code, &loc, ptr, msg));
    }

    fn record(&mut self, ptr: &str, file: u32, pos: Pos, key: Option<(u32, Pos)>) {
        self.spans.map.insert(
            ptr.to_string(),
            SpanEntry {
                file,
                pos,
                key_pos: key.map(|k| k.1),
                key_file: key.map_or(file, |k| k.0),
            },
        );
    }

    /// Converts `node` (from file `file`) to JSON at pointer `ptr`, resolving includes.
    fn convert(
        &mut self,
        node: YNode,
        ptr: &mut String,
        file: u32,
        key: Option<(u32, Pos)>,
        depth: usize,
    ) -> Value {
        self.record(ptr, file, node.pos, key);
        if depth > yaml::MAX_DEPTH * 2 {
            // Unreachable with the parser's own limit and the include depth limit; kept so that
            // recursion stays bounded whatever the input.
            return Value::Null;
        }
        match node.kind {
            YKind::Null => Value::Null,
            YKind::Bool(b) => Value::Bool(b),
            YKind::Int(i) => Value::from(i),
            YKind::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            YKind::Str(s) => Value::String(s),
            YKind::Include(arg) => self.include(&arg, ptr, file, node.pos, key, depth, false),
            YKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&i.to_string());
                    out.push(self.convert(item, ptr, file, None, depth + 1));
                    ptr.truncate(len);
                }
                Value::Array(out)
            }
            YKind::Map(entries) => {
                if let Some(target) = local_ref(&entries) {
                    let ref_pos = entries
                        .iter()
                        .find(|e| e.key == "$ref")
                        .map_or(node.pos, |e| e.value.pos);
                    let p = ptr.clone();
                    // `file.yaml#/pointer` names a part of a file: reported, but not followed (an
                    // `!include` always takes the whole file).
                    let fragment = target.contains('#');
                    let note = if fragment {
                        " (a `#` fragment is not followed)"
                    } else {
                        ""
                    };
                    self.emit(
                        "ONEX068",
                        file,
                        ref_pos,
                        &format!("{p}/$ref"),
                        format!("legacy `$ref: {target}` to a local file is deprecated; use `!include {}`{note}", target.split('#').next().unwrap_or(&target)),
                    );
                    if self.opts.include && !fragment {
                        return self.include(&target, ptr, file, ref_pos, key, depth, true);
                    }
                }
                let mut out = Map::with_capacity(entries.len());
                for e in entries {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&escape_segment(&e.key));
                    let v = self.convert(e.value, ptr, file, Some((file, e.key_pos)), depth + 1);
                    ptr.truncate(len);
                    out.insert(e.key, v);
                }
                Value::Object(out)
            }
        }
    }

    /// Resolves `!include arg` (or a followed `$ref`) found in `file` at `pos`.
    #[allow(clippy::too_many_arguments)]
    fn include(
        &mut self,
        arg: &str,
        ptr: &mut String,
        file: u32,
        pos: Pos,
        key: Option<(u32, Pos)>,
        depth: usize,
        via_ref: bool,
    ) -> Value {
        let what = if via_ref { "$ref" } else { "!include" };
        let p = ptr.clone();
        if self.budget.exhausted {
            return Value::Null;
        }
        let rel = Path::new(arg);
        let bad = rel.is_absolute()
            || arg.starts_with(['/', '\\'])
            || rel.components().any(|c| {
                matches!(
                    c,
                    Component::ParentDir | Component::Prefix(_) | Component::RootDir
                )
            });
        if bad {
            self.emit(
                "ONEX080",
                file,
                pos,
                &p,
                format!("{what} path `{arg}` must be relative and must not contain `..`"),
            );
            return Value::Null;
        }
        // The top-level file's includes resolve against the directory it was named in (even when
        // the file itself is a symlink); an included file's against its real location.
        let including_dir = if self.chain.len() <= 1 {
            self.base.clone()
        } else {
            self.chain
                .last()
                .and_then(|f| f.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        let target = including_dir.join(rel);
        let canon = match std::fs::canonicalize(&target) {
            Ok(c) => c,
            Err(e) => {
                self.emit(
                    "ONEX081",
                    file,
                    pos,
                    &p,
                    format!("{what} target `{arg}` cannot be opened: {e}"),
                );
                return Value::Null;
            }
        };
        if !canon.starts_with(&self.base) {
            self.emit(
                "ONEX081",
                file,
                pos,
                &p,
                format!(
                    "{what} target `{arg}` resolves to {} outside the contract directory {}",
                    canon.display(),
                    self.base.display()
                ),
            );
            return Value::Null;
        }
        if let Some(i) = self.chain.iter().position(|c| *c == canon) {
            let mut names: Vec<String> = self.chain[i..].iter().map(|c| display_name(c)).collect();
            names.push(display_name(&canon));
            self.emit(
                "ONEX082",
                file,
                pos,
                &p,
                format!("include cycle: {}", names.join(" -> ")),
            );
            return Value::Null;
        }
        if self.chain.len() > MAX_INCLUDE_DEPTH {
            self.emit(
                "ONEX083",
                file,
                pos,
                &p,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels at `{arg}`"),
            );
            return Value::Null;
        }
        match std::fs::metadata(&canon) {
            Ok(m) if m.len() > MAX_INCLUDE_BYTES => {
                self.emit(
                    "ONEX084",
                    file,
                    pos,
                    &p,
                    format!(
                        "included file `{arg}` is {} bytes, larger than the 1 MiB limit",
                        m.len()
                    ),
                );
                return Value::Null;
            }
            Ok(m) if !m.is_file() => {
                self.emit(
                    "ONEX081",
                    file,
                    pos,
                    &p,
                    format!("{what} target `{arg}` is not a regular file"),
                );
                return Value::Null;
            }
            Ok(_) => {}
            Err(e) => {
                self.emit(
                    "ONEX081",
                    file,
                    pos,
                    &p,
                    format!("{what} target `{arg}` cannot be read: {e}"),
                );
                return Value::Null;
            }
        }
        let bytes = match read_bounded(&canon, MAX_INCLUDE_BYTES) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => {
                self.emit(
                    "ONEX084",
                    file,
                    pos,
                    &p,
                    format!("included file `{arg}` is larger than the 1 MiB limit"),
                );
                return Value::Null;
            }
            Err(e) => Err(e),
        };
        let text = match bytes.map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                self.emit(
                    "ONEX081",
                    file,
                    pos,
                    &p,
                    format!("{what} target `{arg}` is not UTF-8 text"),
                );
                return Value::Null;
            }
            Err(e) => {
                self.emit(
                    "ONEX081",
                    file,
                    pos,
                    &p,
                    format!("{what} target `{arg}` cannot be read: {e}"),
                );
                return Value::Null;
            }
        };
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        let parsed = yaml::parse(&text, self.opts.include);
        let nodes = parsed.root.as_ref().map_or(0, |r| r.size);
        if let Some(limit) = self.budget.charge(nodes, text.len()) {
            self.emit(
                "ONEX086",
                file,
                pos,
                &p,
                format!(
                    "includes expand the document to {limit} at `{arg}` (repeated includes count every time); stopped here"
                ),
            );
            return Value::Null;
        }
        // The included file is shown under the path it was named by (relative to the top-level
        // file's directory when possible), so findings read naturally.
        let shown = self.spans.files[file as usize]
            .parent()
            .map_or_else(|| target.clone(), |d| d.join(rel));
        let new_file = u32::try_from(self.spans.files.len()).unwrap_or(u32::MAX);
        self.spans.files.push(shown);
        self.spans.sources.push(Arc::from(text.as_str()));
        self.push_issues(new_file, &p, parsed.issues);
        let Some(root) = parsed.root else {
            return Value::Null;
        };
        self.chain.push(canon);
        let v = self.convert(root, ptr, new_file, key, depth + 1);
        self.chain.pop();
        v
    }
}

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `{$ref: rel/path.yaml}` naming a local file (not a URL, not a `#` pointer).
fn local_ref(entries: &[yaml::YEntry]) -> Option<String> {
    let e = entries.iter().find(|e| e.key == "$ref")?;
    let YKind::Str(s) = &e.value.kind else {
        return None;
    };
    let s = s.trim();
    if s.is_empty() || s.starts_with('#') || s.contains("://") {
        return None;
    }
    Some(s.to_string())
}
