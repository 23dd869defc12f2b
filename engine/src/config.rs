//! Configuration: `onex.toml` in the working directory, else `$XDG_CONFIG_HOME/onex/config.toml`
//! (default `~/.config/onex/config.toml`). Precedence: flag > environment > file > default; this
//! module applies file and environment, the CLI applies its flags on top.
//!
//! Every key is optional; unknown keys are an error so a typo never goes unnoticed. Besides the
//! engine's own sections a file may hold sections of the workflow packages a binary links
//! (node generation's `[python]`, `[gates]`): [`Config::packages`] keeps them as written, each
//! package reads its own ([`Config::package`]) and the binary checks that no other section is
//! there ([`Config::check_sections`]).

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
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
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
        let mut config = match Self::find_file(cwd, env) {
            Some(path) => Self::from_file(&path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
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

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
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

    /// Fails on a top-level section that is neither the engine's nor one of `known` (the
    /// sections of the packages this binary links), naming the closest known one.
    pub fn check_sections(&self, known: &[&str]) -> Result<(), ConfigError> {
        const ENGINE: &[&str] = &["bus", "cli", "run", "orchestrator"];
        for name in self.packages.keys() {
            if !known.contains(&name.as_str()) {
                let all = ENGINE.iter().chain(known.iter()).copied();
                let hint = crate::diag::did_you_mean(name, all)
                    .map(|s| format!(" (did you mean [{s}]?)"))
                    .unwrap_or_default();
                return Err(ConfigError::Parse {
                    path: self.source.clone().unwrap_or_else(|| "onex.toml".into()),
                    message: format!("unknown section [{name}]{hint}"),
                });
            }
        }
        Ok(())
    }

    /// A package's section, deserialised (its default when absent).
    pub fn package<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, ConfigError> {
        match self.packages.get(name) {
            None => Ok(T::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: self.source.clone().unwrap_or_else(|| "onex.toml".into()),
                    message: format!("[{name}]: {e}"),
                }),
        }
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
        std::fs::write(dir.path().join("onex.toml"), "[bus]\nurll = \"x\"\n").unwrap();
        let err = Config::load_with(dir.path(), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("onex.toml") && err.contains("urll"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let err = Config::load_with(dir.path(), &env(&[("ONEX_CLI_MODE", "sideways")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ONEX_CLI_MODE"), "{err}");
    }
}
