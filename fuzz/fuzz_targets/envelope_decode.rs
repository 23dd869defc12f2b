//! The envelope decoder every bus consumer runs on a message value (bytes to a checked
//! envelope, engine/src/bus/validate.rs), against the shipped catalogues so that payload
//! schemas are checked too. Invariant beyond "no panic": an accepted envelope, encoded again,
//! is accepted again (what the orchestrator publishes, its peers can consume).
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use onex_engine::bus::decode_envelope;
use onex_engine::events::{EventCatalog, EventRegistry};

static REGISTRY: LazyLock<EventRegistry> = LazyLock::new(|| {
    let catalogs = [
        include_str!("../../contracts/pipeline_events.yaml"),
        include_str!("../../contracts/node_quality_events.yaml"),
    ]
    .map(|src| Arc::new(EventCatalog::from_yaml_str(src).expect("shipped catalogue is valid")));
    EventRegistry::with(catalogs).expect("shipped catalogues do not clash")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = decode_envelope(&REGISTRY, data) {
        let again = serde_json::to_vec(&env).expect("an envelope serialises");
        if let Err(e) = decode_envelope(&REGISTRY, &again) {
            panic!("accepted envelope rejected after re-encoding: {e}");
        }
    }
});
