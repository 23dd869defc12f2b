//! Bus configuration (`[bus]` in onex.toml, `ONEX_BUS`) and the URL that chooses the back end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BusError;

/// Who connects: the one-shot CLI or a long-running service (orchestrator). Kafka producer
/// idempotence is on for services and off for the CLI (docs/bus.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Cli,
    Service,
}

/// How long and how much a topic keeps. Applied per back end: embedded deletes old rows,
/// Kafka sets `retention.ms` on topics it creates, Redis trims with `XADD MAXLEN ~`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Messages older than this are deleted (embedded, Kafka). `None` keeps them forever.
    pub max_age_secs: Option<u64>,
    /// At most this many messages per topic (embedded, Redis). `None` = unbounded.
    pub max_messages: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_secs: Some(7 * 24 * 3600),
            max_messages: Some(100_000),
        }
    }
}

/// `[bus]` settings. Every field has a default, so `BusConfig::default()` is the embedded bus
/// under `$XDG_STATE_HOME/onex/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `embedded[:DIR]`, `kafka://host:port[,host:port…]` or `redis://host:port[/db]`.
    pub url: String,
    /// Prefixes every topic, `dlq` and `runs` included.
    pub topic_prefix: String,
    /// Largest message value accepted on publish (default 1 MiB).
    pub max_message_bytes: usize,
    /// Check payloads against the catalogue's JSON Schema on publish (always done on consume).
    pub validate_on_publish: bool,
    /// librdkafka properties passed through unchanged (`kafka.<property>`: SASL, TLS, timeouts).
    pub kafka: BTreeMap<String, String>,
    pub retention: Retention,
    /// Partitions of Kafka topics created when missing.
    pub partitions: i32,
    /// Replication factor of Kafka topics created when missing.
    pub replication_factor: i32,
    /// Embedded and Redis: a message delivered to a group member that neither acks nor renews it
    /// for this long (the member died) is redelivered to another member. Live members renew
    /// their leases in the background, so long handlers are safe. Kafka uses
    /// `session.timeout.ms` instead.
    pub lease_ms: u64,
    /// Waits between failed deliveries of one message (nack); after `len + 1` failed deliveries
    /// the message is dead-lettered. Default `[1000, 2000]`: DLQ after 3 deliveries.
    pub retry_delays_ms: Vec<u64>,
    /// Upper bound for a publish to be acknowledged, and for connecting.
    pub timeout_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "embedded".into(),
            topic_prefix: String::new(),
            max_message_bytes: 1024 * 1024,
            validate_on_publish: true,
            kafka: BTreeMap::new(),
            retention: Retention::default(),
            partitions: 6,
            replication_factor: 1,
            lease_ms: 30_000,
            retry_delays_ms: vec![1000, 2000],
            timeout_ms: 10_000,
        }
    }
}

impl BusConfig {
    /// A config for `url` with every other field defaulted.
    pub fn with_url(url: impl Into<String>) -> Self {
        BusConfig {
            url: url.into(),
            ..Default::default()
        }
    }

    /// The bus settings of a loaded `onex.toml` / environment (`[bus]`), other fields defaulted.
    /// `retention_events = 0` means unbounded.
    pub fn from_section(section: &crate::config::BusSection) -> Self {
        let mut cfg = BusConfig {
            url: section.url.clone(),
            topic_prefix: section.topic_prefix.clone(),
            max_message_bytes: section.max_message_bytes,
            validate_on_publish: section.validate_on_publish,
            kafka: section.kafka.clone(),
            ..Default::default()
        };
        cfg.retention.max_messages =
            (section.retention_events > 0).then_some(section.retention_events);
        if let Some(p) = section.partitions {
            cfg.partitions = p;
        }
        if let Some(l) = section.lease_ms {
            cfg.lease_ms = l;
        }
        if let Some(t) = section.timeout_ms {
            cfg.timeout_ms = t;
        }
        cfg
    }

    #[cfg_attr(not(any(feature = "kafka", feature = "redis")), allow(dead_code))]
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    pub(crate) fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.max(100))
    }

    /// Failed deliveries after which a nacked message is dead-lettered.
    pub fn max_deliveries(&self) -> u32 {
        self.retry_delays_ms.len() as u32 + 1
    }

    /// Parse `url` into the back end it names.
    pub fn backend_url(&self) -> Result<BusUrl, BusError> {
        BusUrl::parse(&self.url)
    }
}

/// A parsed `bus.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusUrl {
    /// SQLite database file of the embedded log.
    Embedded(PathBuf),
    /// `bootstrap.servers` for librdkafka.
    Kafka(String),
    /// The URL as the redis client takes it.
    Redis(String),
}

/// File name of the embedded log inside its directory.
pub const EMBEDDED_FILE: &str = "bus.sqlite3";

impl BusUrl {
    pub fn parse(url: &str) -> Result<BusUrl, BusError> {
        let url = url.trim();
        if url.is_empty() || url == "embedded" {
            return Ok(BusUrl::Embedded(default_state_dir()?.join(EMBEDDED_FILE)));
        }
        if let Some(path) = url.strip_prefix("embedded:") {
            if path.is_empty() {
                return Ok(BusUrl::Embedded(default_state_dir()?.join(EMBEDDED_FILE)));
            }
            let p = Path::new(path);
            // A path naming a database file is used as is; anything else is a directory.
            let is_file = matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("db" | "sqlite" | "sqlite3")
            );
            return Ok(BusUrl::Embedded(if is_file {
                p.to_path_buf()
            } else {
                p.join(EMBEDDED_FILE)
            }));
        }
        if let Some(rest) = url.strip_prefix("kafka://") {
            let servers: Vec<&str> = rest
                .trim_end_matches('/')
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if servers.is_empty() || servers.iter().any(|s| !s.contains(':')) {
                return Err(BusError::Config(format!(
                    "bus.url `{url}`: expected kafka://host:port[,host:port…]"
                )));
            }
            return Ok(BusUrl::Kafka(servers.join(",")));
        }
        if url.starts_with("redis://") || url.starts_with("rediss://") {
            return Ok(BusUrl::Redis(url.to_string()));
        }
        Err(BusError::Config(format!(
            "bus.url `{url}`: expected embedded[:PATH], kafka://host:port[,…] or redis://host:port"
        )))
    }
}

/// `$XDG_STATE_HOME/onex`, default `~/.local/state/onex`.
pub fn default_state_dir() -> Result<PathBuf, BusError> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("onex"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/state/onex")),
        None => Err(BusError::Config(
            "cannot place the embedded bus: neither XDG_STATE_HOME nor HOME is set; use bus.url = \"embedded:DIR\"".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            BusUrl::parse("embedded:/tmp/x").unwrap(),
            BusUrl::Embedded(PathBuf::from("/tmp/x/bus.sqlite3"))
        );
        assert_eq!(
            BusUrl::parse("embedded:/tmp/x/a.db").unwrap(),
            BusUrl::Embedded(PathBuf::from("/tmp/x/a.db"))
        );
        assert_eq!(
            BusUrl::parse("kafka://a:1, b:2").unwrap(),
            BusUrl::Kafka("a:1,b:2".into())
        );
        assert_eq!(
            BusUrl::parse("redis://127.0.0.1:7000").unwrap(),
            BusUrl::Redis("redis://127.0.0.1:7000".into())
        );
        assert!(matches!(
            BusUrl::parse("kafka://"),
            Err(BusError::Config(_))
        ));
        assert!(matches!(
            BusUrl::parse("kafka://nohostport"),
            Err(BusError::Config(_))
        ));
        assert!(matches!(
            BusUrl::parse("amqp://x"),
            Err(BusError::Config(_))
        ));
    }

    #[test]
    fn from_config_section() {
        let mut s = crate::config::BusSection {
            url: "redis://h:1".into(),
            topic_prefix: "p.".into(),
            retention_events: 0,
            ..Default::default()
        };
        s.kafka
            .insert("security.protocol".into(), "SASL_SSL".into());
        let c = BusConfig::from_section(&s);
        assert_eq!(c.url, "redis://h:1");
        assert_eq!(c.topic_prefix, "p.");
        assert_eq!(c.retention.max_messages, None);
        assert_eq!(c.kafka["security.protocol"], "SASL_SSL");
        assert_eq!(c.max_message_bytes, 1 << 20);
        s.retention_events = 10;
        assert_eq!(BusConfig::from_section(&s).retention.max_messages, Some(10));
    }
}
