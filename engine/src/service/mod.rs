//! Workflows as a service on the bus: the orchestrator (group consumer of the hosted
//! workflows' trigger events, routing, run-state de-duplication, crash takeover, bounded
//! concurrency, graceful shutdown), the event sink that publishes a run's events, the follower
//! a client uses to watch a run, and orchestrator presence on the embedded bus (so the CLI
//! knows whether to run one itself).

pub mod cancel;
pub mod follow;
pub mod orchestrator;
pub mod presence;
pub mod reload;
mod sink;

pub use follow::{Followed, Progress, RunFollower};
pub use orchestrator::{Orchestrator, OrchestratorOptions, Outcome, Stats};
pub use sink::BusSink;
