//! The pipeline as a service on the bus: the orchestrator (group consumer of the trigger
//! events, run-state de-duplication, crash takeover, bounded concurrency, graceful shutdown),
//! the event sink that publishes a run's events, and orchestrator presence on the embedded bus
//! (so the CLI knows whether to run one itself).

pub mod orchestrator;
pub mod presence;
mod sink;

pub use orchestrator::{Orchestrator, OrchestratorOptions, Outcome, Stats};
pub use sink::BusSink;
