//! Configuration: `onex.toml` in the working directory, else `$XDG_CONFIG_HOME/onex/config.toml`
//! (default `~/.config/onex/config.toml`). Precedence: flag > environment > file > default; this
//! module applies file and environment, the CLI applies its flags on top.
//!
//! Every key is optional; unknown keys are an error so a typo never goes unnoticed. Besides the
//! engine's own sections a file may hold sections of the workflow packages a binary links
//! (node generation's `[python]`, `[gates]`): [`Config::packages`] keeps them as written, each
//! package reads its own ([`Config::package`]) and the binary checks that no other section is
//! there ([`Config::check_keys`]).
//!
//! Every key a file may hold is documented: the engine's in [`ENGINE_KEYS`], a package's in the
//! list it passes to [`Config::check_keys`]. Anything else is an error naming `file:line:col`
//! with the closest documented key. [`Config::origins`] records where each value that is not a
//! default came from (file position, environment variable, flag) for `onex config`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub bus: BusSection,
    pub cli: CliSection,
    pub run: RunSection,
    pub orchestrator: OrchestratorSection,
    /// Sections of workflow packages, as written (see the module doc).
    #[serde(flatten)]
    pub packages: BTreeMap<String, toml::Value>,
    /// Where the configuration came from (`None` = defaults only). Not read from the file.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Where each value that is not a default came from, by dotted key (`bus.url`).
    #[serde(skip)]
    pub origins: BTreeMap<String, Origin>,
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    Default,
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    Env {
        var: String,
    },
    Flag {
        flag: String,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// The keys of the engine's sections, dotted; `section.name.*` takes any key below `name`.
pub const ENGINE_KEYS: &[&str] = &[
    "bus.url",
    "bus.topic_prefix",
    "bus.max_message_bytes",
    "bus.validate_on_publish",
    "bus.retention_events",
    "bus.partitions",
    "bus.lease_ms",
    "bus.timeout_ms",
    "bus.kafka.*",
    "cli.mode",
    "cli.auto_fallback_ms",
    "run.timeout_s",
    "run.wait_grace_s",
    "orchestrator.group",
    "orchestrator.concurrency",
    "orchestrator.allowed_roots",
    "orchestrator.workflows",
];

/// The sections of [`ENGINE_KEYS`].
const ENGINE_SECTIONS: &[&str] = &["bus", "cli", "run", "orchestrator"];

/// Whether `key` (dotted) is documented by `patterns`, or is a section/table above one.
fn key_known(key: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix(".*") {
        Some(prefix) => key == prefix || key.starts_with(&format!("{prefix}.")),
        None => *p == key || p.starts_with(&format!("{key}.")),
    })
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Every key of a parsed file, dotted, with the position of its name, in file order.
fn key_positions(
    text: &str,
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    out: &mut Vec<(String, usize, usize)>,
) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        let (line, col) = line_col(text, k.span().start);
        out.push((key.clone(), line, col));
        if let Some(t) = v.get_ref().as_table() {
            key_positions(text, t, &key, out);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSection {
    /// `embedded[:PATH]`, `kafka://host:port[,host:port…]` or `redis://host:port`.
    pub url: String,
    /// Prefixes every topic (dlq and runs included).
    pub topic_prefix: String,
    pub max_message_bytes: usize,
    /// Check payloads against the catalogue on publish (always checked on consume).
    pub validate_on_publish: bool,
    /// Retention of the embedded log and Redis streams, in events per topic (0 = unlimited).
    pub retention_events: u64,
    /// librdkafka properties passed through as they are (`kafka.security.protocol = "SASL_SSL"`).
    pub kafka: BTreeMap<String, String>,
    /// Partitions of topics the bus creates (Kafka); consumers of one group share them.
    pub partitions: Option<i32>,
    /// How long a group member may hold a message without renewing before it is redelivered
    /// (embedded, Redis).
    pub lease_ms: Option<u64>,
    /// How long a bus operation may take before it fails (unreachable broker).
    pub timeout_ms: Option<u64>,
}

impl Default for BusSection {
    fn default() -> Self {
        BusSection {
            url: "embedded".into(),
            topic_prefix: String::new(),
            max_message_bytes: 1024 * 1024,
            validate_on_publish: true,
            retention_events: 0,
            kafka: BTreeMap::new(),
            partitions: None,
            lease_ms: None,
            timeout_ms: None,
        }
    }
}

/// How `onex generate` reaches the pipeline (the seed's feature flag and rollback path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CliMode {
    /// Publish on the bus and follow the run's events.
    #[default]
    Bus,
    /// Run the engine in-process.
    Direct,
    /// Bus, falling back to direct (with a warning) when the bus is unreachable.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CliSection {
    pub mode: CliMode,
    /// How long `auto` waits for the bus before it falls back to direct mode.
    pub auto_fallback_ms: u64,
}

impl Default for CliSection {
    fn default() -> Self {
        CliSection {
            mode: CliMode::Bus,
            auto_fallback_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// Whole-run timeout; the contract's own value applies when this is unset.
    pub timeout_s: Option<u64>,
    /// Grace the CLI waits beyond the run timeout before it gives up (exit 3).
    pub wait_grace_s: u64,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            timeout_s: None,
            wait_grace_s: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrchestratorSection {
    pub group: String,
    pub concurrency: usize,
    /// Where the orchestrator may write; default: its working directory.
    pub allowed_roots: Vec<PathBuf>,
    /// Workflow contract files or directories to host when `--workflow` is not given.
    pub workflows: Vec<PathBuf>,
}

impl Default for OrchestratorSection {
    fn default() -> Self {
        OrchestratorSection {
            group: "onex-orchestrator".into(),
            concurrency: 4,
            allowed_roots: Vec::new(),
            workflows: Vec::new(),
        }
    }
}

/// A configuration problem, naming the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    At {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("environment variable {var}={value:?}: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },
}

impl Config {
    /// Loads the file (if any) found from `cwd`, then applies the process environment.
    pub fn load(cwd: &Path) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_with(cwd, &env)
    }

    /// Like [`Config::load`] with an explicit environment (tests).
    pub fn load_with(cwd: &Path, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        Self::load_file_with(Self::find_file(cwd, env).as_deref(), env)
    }

    /// `file` (`--config FILE`; `None`: defaults only), then the environment; the values are
    /// checked ([`Config::check_values`]).
    pub fn load_file_with(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.check_values()?;
        Ok(config)
    }

    /// `onex.toml` in `cwd`, else the XDG config file, when they exist.
    pub fn find_file(cwd: &Path, env: &BTreeMap<String, String>) -> Option<PathBuf> {
        let local = cwd.join("onex.toml");
        if local.is_file() {
            return Some(local);
        }
        let xdg = match env.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(env.get("HOME")?).join(".config"),
        };
        let file = xdg.join("onex").join("config.toml");
        file.is_file().then_some(file)
    }

    /// Reads one file: TOML syntax, then every key of the engine's sections against
    /// [`ENGINE_KEYS`] (a misspelt key is named with its position and the closest documented
    /// one), then the values' types.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let at = |e: &toml::de::Error| match e.span() {
            Some(span) => {
                let (line, column) = line_col(&text, span.start);
                ConfigError::At {
                    path: path.to_owned(),
                    line,
                    column,
                    message: e.message().trim().to_string(),
                }
            }
            None => ConfigError::Parse {
                path: path.to_owned(),
                message: e.message().trim().to_string(),
            },
        };
        let table = toml::de::DeTable::parse(&text).map_err(|e| at(&e))?;
        let mut keys = Vec::new();
        key_positions(&text, table.get_ref(), "", &mut keys);
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            // An unknown key of an engine section is reported with the documented keys.
            Self::unknown_key(path, &keys, ENGINE_SECTIONS, ENGINE_KEYS).unwrap_or_else(|| at(&e))
        })?;
        config.source = Some(path.to_owned());
        for (key, line, column) in keys {
            config.origins.insert(
                key,
                Origin::File {
                    path: path.to_owned(),
                    line,
                    column,
                },
            );
        }
        Ok(config)
    }

    /// The first key of `sections` in `keys` that `patterns` does not document, as an error.
    fn unknown_key(
        path: &Path,
        keys: &[(String, usize, usize)],
        sections: &[&str],
        patterns: &[&str],
    ) -> Option<ConfigError> {
        let (key, line, column) = keys.iter().find(|(k, _, _)| {
            let section = k.split('.').next().unwrap_or_default();
            sections.contains(&section) && !key_known(k, patterns)
        })?;
        let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
        let siblings = patterns
            .iter()
            .filter_map(|p| p.strip_prefix(section)?.strip_prefix('.'))
            .map(|rest| rest.split('.').next().unwrap_or(rest));
        let hint = crate::diag::did_you_mean(name, siblings)
            .map(|s| format!(" (did you mean `{section}.{s}`?)"))
            .unwrap_or_default();
        Some(ConfigError::At {
            path: path.to_owned(),
            line: *line,
            column: *column,
            message: format!("unknown key `{key}`{hint}"),
        })
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let mut from_env = |key: &str, var: &str| {
            self.origins
                .insert(key.into(), Origin::Env { var: var.into() });
        };
        if get("ONEX_BUS").is_some() {
            from_env("bus.url", "ONEX_BUS");
        }
        if get("ONEX_TOPIC_PREFIX").is_some() {
            from_env("bus.topic_prefix", "ONEX_TOPIC_PREFIX");
        }
        if get("ONEX_CLI_MODE").is_some() {
            from_env("cli.mode", "ONEX_CLI_MODE");
        }
        if get("ONEX_RUN_TIMEOUT").is_some() {
            from_env("run.timeout_s", "ONEX_RUN_TIMEOUT");
        }
        if let Some(v) = get("ONEX_BUS") {
            self.bus.url = v;
        }
        if let Some(v) = get("ONEX_TOPIC_PREFIX") {
            self.bus.topic_prefix = v;
        }
        if let Some(v) = get("ONEX_CLI_MODE") {
            self.cli.mode = match v.as_str() {
                "bus" => CliMode::Bus,
                "direct" => CliMode::Direct,
                "auto" => CliMode::Auto,
                _ => {
                    return Err(ConfigError::Env {
                        var: "ONEX_CLI_MODE",
                        value: v,
                        message: "expected bus, direct or auto".into(),
                    });
                }
            };
        }
        if let Some(v) = get("ONEX_RUN_TIMEOUT") {
            let secs = v.parse::<u64>().map_err(|e| ConfigError::Env {
                var: "ONEX_RUN_TIMEOUT",
                value: v.clone(),
                message: format!("expected whole seconds: {e}"),
            })?;
            self.run.timeout_s = Some(secs);
        }
        Ok(())
    }

    /// Values that parse but cannot work: a zero run timeout would fail every run at once, a
    /// zero concurrency would run nothing. The error names where the value came from.
    pub fn check_values(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            what: format!("{key} ({})", self.origin(key)),
            message: message.into(),
        };
        if self.run.timeout_s == Some(0) {
            return Err(bad(
                "run.timeout_s",
                "0 s would time every run out at once; give whole seconds > 0, or leave it \
                 unset for the contract's own timeout",
            ));
        }
        if self.orchestrator.concurrency == 0 {
            return Err(bad(
                "orchestrator.concurrency",
                "0 would run nothing; give 1 or more",
            ));
        }
        if self.bus.url.trim().is_empty() {
            return Err(bad(
                "bus.url",
                "empty; give embedded[:DIR], kafka://host:port or redis://host:port",
            ));
        }
        Ok(())
    }

    /// Where the value of `key` came from.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// Records that a flag set `key` (the CLI applies its flags itself).
    pub fn set_origin_flag(&mut self, key: &str, flag: &str) {
        self.origins
            .insert(key.into(), Origin::Flag { flag: flag.into() });
    }

    /// Fails on a top-level section that is neither the engine's nor one of `known` (the
    /// sections of the packages this binary links), naming the closest known one.
    pub fn check_sections(&self, known: &[&str]) -> Result<(), ConfigError> {
        for name in self.packages.keys() {
            if !known.contains(&name.as_str()) {
                let all = ENGINE_SECTIONS.iter().chain(known.iter()).copied();
                let hint = crate::diag::did_you_mean(name, all)
                    .map(|s| format!(" (did you mean [{s}]?)"))
                    .unwrap_or_default();
                let path = self.source.clone().unwrap_or_else(|| "onex.toml".into());
                let message = format!("unknown section [{name}]{hint}");
                return Err(match self.origins.get(name) {
                    Some(Origin::File { line, column, .. }) => ConfigError::At {
                        path,
                        line: *line,
                        column: *column,
                        message,
                    },
                    _ => ConfigError::Parse { path, message },
                });
            }
        }
        Ok(())
    }

    /// [`Config::check_sections`], then every key of the packages' sections against their
    /// documented `keys` (dotted, `section.*` for free-form sections).
    pub fn check_keys(&self, sections: &[&str], keys: &[&str]) -> Result<(), ConfigError> {
        self.check_sections(sections)?;
        let Some(path) = &self.source else {
            return Ok(());
        };
        let found: Vec<(String, usize, usize)> = self
            .origins
            .iter()
            .filter_map(|(k, o)| match o {
                Origin::File { line, column, .. } => Some((k.clone(), *line, *column)),
                _ => None,
            })
            .collect::<Vec<_>>();
        let mut found = found;
        found.sort_by_key(|(_, line, column)| (*line, *column));
        match Self::unknown_key(path, &found, sections, keys) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A package's section, deserialised (its default when absent).
    pub fn package<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, ConfigError> {
        match self.packages.get(name) {
            None => Ok(T::default()),
            Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| {
                let path = self.source.clone().unwrap_or_else(|| "onex.toml".into());
                let message = format!("[{name}]: {}", e.message().trim());
                match self.origins.get(name) {
                    Some(Origin::File { line, column, .. }) => ConfigError::At {
                        path,
                        line: *line,
                        column: *column,
                        message,
                    },
                    _ => ConfigError::Parse { path, message },
                }
            }),
        }
    }

    /// Every documented key (`ENGINE_KEYS`, then `package_keys`) with its effective value
    /// (`None`: unset) and origin; a `section.name.*` pattern yields each key present below it.
    pub fn effective(&self, package_keys: &[&str]) -> Vec<(String, Option<toml::Value>, Origin)> {
        let root = toml::Value::try_from(self).unwrap_or(toml::Value::Table(Default::default()));
        let lookup = |key: &str| key.split('.').try_fold(&root, |v, k| v.get(k)).cloned();
        let mut out = Vec::new();
        for pattern in ENGINE_KEYS.iter().chain(package_keys) {
            match pattern.strip_suffix(".*") {
                Some(prefix) => {
                    if let Some(toml::Value::Table(t)) = lookup(prefix) {
                        for (k, v) in t {
                            let key = format!("{prefix}.{k}");
                            let origin = self.origin(&key);
                            out.push((key, Some(v), origin));
                        }
                    }
                }
                None => out.push((pattern.to_string(), lookup(pattern), self.origin(pattern))),
            }
        }
        out
    }

    /// The directory of the embedded bus log: `$XDG_STATE_HOME/onex/` (default
    /// `~/.local/state/onex/`).
    pub fn default_state_dir(env: &BTreeMap<String, String>) -> PathBuf {
        match env.get("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("onex"),
            None => PathBuf::from(env.get("HOME").cloned().unwrap_or_else(|| "/tmp".into()))
                .join(".local/state/onex"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load_with(dir.path(), &env(&[("HOME", "/nonexistent")])).unwrap();
        assert_eq!(c.bus.url, "embedded");
        assert_eq!(c.bus.max_message_bytes, 1 << 20);
        assert_eq!(c.cli.mode, CliMode::Bus);
        assert_eq!(c.source, None);
    }

    #[test]
    fn env_beats_file_and_local_file_beats_xdg() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(xdg.path().join("onex")).unwrap();
        std::fs::write(
            xdg.path().join("onex/config.toml"),
            "[bus]\nurl = \"redis://xdg:1\"\n",
        )
        .unwrap();
        let e = env(&[("XDG_CONFIG_HOME", xdg.path().to_str().unwrap())]);
        assert_eq!(
            Config::load_with(dir.path(), &e).unwrap().bus.url,
            "redis://xdg:1"
        );

        std::fs::write(
            dir.path().join("onex.toml"),
            "[bus]\nurl = \"kafka://local:9\"\ntopic_prefix = \"t1.\"\n[cli]\nmode = \"auto\"\n",
        )
        .unwrap();
        let c = Config::load_with(dir.path(), &e).unwrap();
        assert_eq!(c.bus.url, "kafka://local:9");
        assert_eq!(c.cli.mode, CliMode::Auto);

        let mut e2 = e.clone();
        e2.insert("ONEX_BUS".into(), "redis://env:2".into());
        let c = Config::load_with(dir.path(), &e2).unwrap();
        assert_eq!(c.bus.url, "redis://env:2");
        assert_eq!(c.bus.topic_prefix, "t1.");
    }

    #[test]
    fn unknown_key_and_bad_env_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("onex.toml"), "[bus]\n  urll = \"x\"\n").unwrap();
        let err = Config::load_with(dir.path(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:2:3: unknown key `bus.urll` (did you mean `bus.url`?)",
                dir.path().join("onex.toml").display()
            )
        );

        let dir = tempfile::tempdir().unwrap();
        let err = Config::load_with(dir.path(), &env(&[("ONEX_CLI_MODE", "sideways")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ONEX_CLI_MODE"), "{err}");
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("onex.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_position_and_the_closest_key() {
        let (_d, p) = file("[run]\ntimeout_s = 5\n\n[orchestrator]\nconcurency = 2\n");
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:5:1: unknown key `orchestrator.concurency` (did you mean \
                 `orchestrator.concurrency`?)",
                p.display()
            )
        );
        // A type error keeps its position too.
        let (_d, p) = file("[cli]\nauto_fallback_ms = \"soon\"\n");
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2:", p.display())), "{err}");
        // librdkafka properties are free-form.
        let (_d, p) = file("[bus.kafka]\n\"security.protocol\" = \"SASL_SSL\"\n");
        assert!(Config::from_file(&p).is_ok());
    }

    #[test]
    fn package_keys_are_checked_against_their_documented_list() {
        let (_d, p) =
            file("[python]\ninterpretr = \"/usr/bin/python3\"\n[gates]\nG4 = \"probe\"\n");
        let c = Config::from_file(&p).unwrap();
        let sections = ["python", "gates"];
        let keys = ["python.interpreter", "gates.*"];
        let err = c.check_keys(&sections, &keys).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:2:1: unknown key `python.interpretr` (did you mean `python.interpreter`?)",
                p.display()
            )
        );
        let (_d, p) = file("[pyton]\ninterpreter = \"x\"\n");
        let err = Config::from_file(&p)
            .unwrap()
            .check_keys(&sections, &keys)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:1:2: unknown section [pyton] (did you mean [python]?)",
                p.display()
            )
        );
    }

    #[test]
    fn a_zero_run_timeout_is_rejected_with_where_it_came_from() {
        let (d, p) = file("[run]\ntimeout_s = 0\n");
        let err = Config::load_with(d.path(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "run.timeout_s ({}:2:1): 0 s would time every run out",
                p.display()
            )),
            "{err}"
        );
        let d = tempfile::tempdir().unwrap();
        let err = Config::load_with(d.path(), &env(&[("ONEX_RUN_TIMEOUT", "0")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("run.timeout_s (env ONEX_RUN_TIMEOUT): "),
            "{err}"
        );
    }

    #[test]
    fn every_value_has_its_origin() {
        let (d, p) = file("[bus]\ntopic_prefix = \"t.\"\nurl = \"redis://f:1\"\n");
        let mut c = Config::load_with(d.path(), &env(&[("ONEX_BUS", "kafka://e:2")])).unwrap();
        c.set_origin_flag("orchestrator.group", "--group");
        let eff = c.effective(&["python.interpreter"]);
        let get = |k: &str| eff.iter().find(|(key, _, _)| key == k).unwrap().clone();
        assert_eq!(get("bus.url").1, Some(toml::Value::from("kafka://e:2")));
        assert_eq!(
            get("bus.url").2,
            Origin::Env {
                var: "ONEX_BUS".into()
            }
        );
        assert_eq!(
            get("bus.topic_prefix").2,
            Origin::File {
                path: p.clone(),
                line: 2,
                column: 1
            }
        );
        assert_eq!(get("cli.mode").2, Origin::Default);
        assert_eq!(get("cli.mode").1, Some(toml::Value::from("bus")));
        assert_eq!(get("run.timeout_s").1, None);
        assert_eq!(get("orchestrator.group").2.to_string(), "flag --group");
        assert_eq!(get("python.interpreter").1, None);
        assert_eq!(
            eff.len(),
            ENGINE_KEYS.len() - 1 + 1,
            "bus.kafka.* has no entry here"
        );
    }
}
