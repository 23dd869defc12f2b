//! The event catalogues a process has loaded, as one lookup: the engine's own catalogue plus the
//! catalogue of every workflow it hosts. The executor checks emitted events against it and the
//! bus maps event types to topics and checks consumed messages with it, so both agree on what
//! an event is.
//!
//! Event types are unique across the registry (an envelope names its type, not its catalogue)
//! and so are topic namespaces (a topic names its namespace). Adding the same catalogue twice —
//! two workflows sharing one file — is a no-op.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::Envelope;
use super::catalog::{
    EventCatalog, EventDef, PayloadError, RUNS_SUFFIX, SYSTEM_NAMESPACE, Violation, ViolationKind,
};

/// The loaded catalogues. Cheap to clone behind an `Arc`.
#[derive(Debug, Clone)]
pub struct EventRegistry {
    /// The system catalogue first, then in the order added.
    catalogs: Vec<Arc<EventCatalog>>,
    /// Event type → index into `catalogs`.
    by_type: HashMap<String, usize>,
}

/// A catalogue that cannot join the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "event type {event_type} is declared by two catalogues ('{first}' and '{second}'); an event type must be unique"
    )]
    DuplicateType {
        event_type: String,
        first: String,
        second: String,
    },
    #[error("topic namespace '{namespace}' is used by two catalogues ('{first}' and '{second}')")]
    DuplicateNamespace {
        namespace: String,
        first: String,
        second: String,
    },
}

impl Default for EventRegistry {
    fn default() -> Self {
        EventRegistry::new()
    }
}

impl EventRegistry {
    /// The engine's own catalogue alone.
    pub fn new() -> Self {
        let mut r = EventRegistry {
            catalogs: Vec::new(),
            by_type: HashMap::new(),
        };
        // The system catalogue has unique types and a namespace of its own by construction.
        let _ = r.add(EventCatalog::system());
        r
    }

    /// The system catalogue plus `catalogs`.
    pub fn with(
        catalogs: impl IntoIterator<Item = Arc<EventCatalog>>,
    ) -> Result<Self, RegistryError> {
        let mut r = EventRegistry::new();
        for c in catalogs {
            r.add(c)?;
        }
        Ok(r)
    }

    /// Adds a catalogue. The same catalogue (same `Arc`, or same namespace with the same event
    /// types) again is accepted and changes nothing.
    pub fn add(&mut self, catalog: Arc<EventCatalog>) -> Result<(), RegistryError> {
        if let Some(existing) = self
            .catalogs
            .iter()
            .find(|c| c.topic_namespace() == catalog.topic_namespace())
        {
            let same = Arc::ptr_eq(existing, &catalog)
                || (existing.name() == catalog.name()
                    && existing
                        .events()
                        .map(|d| &d.event_type)
                        .eq(catalog.events().map(|d| &d.event_type)));
            if same {
                return Ok(());
            }
            return Err(RegistryError::DuplicateNamespace {
                namespace: catalog.topic_namespace().to_owned(),
                first: existing.name().to_owned(),
                second: catalog.name().to_owned(),
            });
        }
        for d in catalog.events() {
            if let Some(&i) = self.by_type.get(&d.event_type) {
                return Err(RegistryError::DuplicateType {
                    event_type: d.event_type.clone(),
                    first: self.catalogs[i].name().to_owned(),
                    second: catalog.name().to_owned(),
                });
            }
        }
        let idx = self.catalogs.len();
        for d in catalog.events() {
            self.by_type.insert(d.event_type.clone(), idx);
        }
        self.catalogs.push(catalog);
        Ok(())
    }

    /// Every catalogue, the system one first.
    pub fn catalogs(&self) -> &[Arc<EventCatalog>] {
        &self.catalogs
    }

    /// The catalogue that declares `event_type`.
    pub fn catalog_of(&self, event_type: &str) -> Option<&Arc<EventCatalog>> {
        self.by_type.get(event_type).map(|&i| &self.catalogs[i])
    }

    pub fn get(&self, event_type: &str) -> Option<&EventDef> {
        self.catalog_of(event_type)?.get(event_type)
    }

    /// `<prefix><namespace>.<suffix>` of an event type.
    pub fn topic(&self, prefix: &str, event_type: &str) -> Option<String> {
        self.catalog_of(event_type)?.topic(prefix, event_type)
    }

    /// The topic of every event type of every catalogue (the dead-letter topic among them).
    pub fn all_topics(&self, prefix: &str) -> Vec<String> {
        self.catalogs
            .iter()
            .flat_map(|c| c.all_topics(prefix))
            .collect()
    }

    /// The topics of a run's events: every topic but the dead letters' and the cancel
    /// requests' (neither is part of a run's sequence).
    pub fn run_topics(&self, prefix: &str) -> Vec<String> {
        let dlq = Self::dlq_topic(prefix);
        let cancel = self.topic(prefix, crate::service::cancel::CANCEL_REQUESTED);
        self.all_topics(prefix)
            .into_iter()
            .filter(|t| *t != dlq && Some(t) != cancel.as_ref())
            .collect()
    }

    /// The event type published on a topic, if any.
    pub fn event_for_topic(&self, prefix: &str, topic: &str) -> Option<&EventDef> {
        self.catalogs
            .iter()
            .find_map(|c| c.event_for_topic(prefix, topic))
    }

    /// The dead-letter topic, `<prefix>onex.dlq` (the system catalogue's DeadLettered).
    pub fn dlq_topic(prefix: &str) -> String {
        format!("{prefix}{SYSTEM_NAMESPACE}.dlq")
    }

    /// The run-state topic, `<prefix>onex.runs`. Run state is not an event, so it has no
    /// catalogue entry.
    pub fn runs_topic(prefix: &str) -> String {
        format!("{prefix}{SYSTEM_NAMESPACE}.{RUNS_SUFFIX}")
    }

    /// Checks a whole envelope against the catalogue that declares its type.
    pub fn validate_envelope(&self, env: &Envelope) -> Result<(), PayloadError> {
        match self.catalog_of(&env.event_type) {
            Some(c) => c.validate_envelope(env),
            None => Err(unknown(&env.event_type, "/event_type")),
        }
    }

    /// Checks a payload against its event type's schema.
    pub fn validate_payload(&self, event_type: &str, payload: &Value) -> Result<(), PayloadError> {
        match self.catalog_of(event_type) {
            Some(c) => c.validate_payload(event_type, payload),
            None => Err(unknown(event_type, "")),
        }
    }
}

fn unknown(event_type: &str, pointer: &str) -> PayloadError {
    PayloadError {
        event_type: event_type.to_owned(),
        violations: vec![Violation {
            kind: ViolationKind::UnknownEventType,
            pointer: pointer.to_owned(),
            message: format!("unknown event type '{event_type}'"),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(name: &str, ns: &str, types: &[&str]) -> Arc<EventCatalog> {
        let events: String = types
            .iter()
            .map(|t| {
                format!(
                    "      - {{event_type: {t}, suffix: {}, stage: pipeline, statuses: [started], payload_schema: {{type: object}}}}\n",
                    t.to_ascii_lowercase()
                )
            })
            .collect();
        let src = format!(
            "name: {name}\nonex:\n  catalog:\n    topic_namespace: {ns}\n    schema_version: 1.0.0\n    events:\n{events}"
        );
        Arc::new(EventCatalog::from_yaml_str(&src).unwrap())
    }

    #[test]
    fn catalogues_join_and_route_by_type_and_topic() {
        let a = catalog("a", "team.a", &["Alpha"]);
        let b = catalog("b", "team.b", &["Beta"]);
        let r = EventRegistry::with([a.clone(), b, a]).unwrap();
        assert_eq!(r.topic("", "Alpha").as_deref(), Some("team.a.alpha"));
        assert_eq!(r.topic("x.", "Beta").as_deref(), Some("x.team.b.beta"));
        assert_eq!(
            r.event_for_topic("", "team.b.beta")
                .map(|d| d.event_type.as_str()),
            Some("Beta")
        );
        assert!(
            r.get("StageStarted").is_some(),
            "the system catalogue is always there"
        );
        assert_eq!(EventRegistry::dlq_topic("p."), "p.onex.dlq");
        assert!(!r.run_topics("").contains(&"onex.dlq".to_string()));
        assert!(r.all_topics("").contains(&"onex.dlq".to_string()));
    }

    #[test]
    fn a_type_or_namespace_claimed_twice_is_refused() {
        let err = EventRegistry::with([
            catalog("a", "team.a", &["Alpha"]),
            catalog("b", "team.b", &["Alpha"]),
        ])
        .unwrap_err();
        assert!(matches!(err, RegistryError::DuplicateType { .. }), "{err}");
        let err = EventRegistry::with([
            catalog("a", "team.a", &["Alpha"]),
            catalog("b", "team.a", &["Beta"]),
        ])
        .unwrap_err();
        assert!(
            matches!(err, RegistryError::DuplicateNamespace { .. }),
            "{err}"
        );
        let err = EventRegistry::with([catalog("c", "team.c", &["StageStarted"])]).unwrap_err();
        assert!(err.to_string().contains("StageStarted"), "{err}");
    }
}
