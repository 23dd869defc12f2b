//! The executor: builds the stage DAG of an executable contract and runs it, stage by stage and
//! gate by gate, emitting every state change as an event.
//!
//! - [`expr`]: the expression language of contracts (gates, `when`, payloads, result);
//!   [`analyse`]: what validation learns from an expression without running it.
//! - [`handler`]: what handlers get and return; the registry ([`Handlers`]).
//! - [`run`]: the run request, event sinks and the emitter that numbers a run's events.
//! - [`executor`]: scheduling, timeouts, retries, gates, records, terminal events.
//! - [`faults`]: injected faults for contract tests.
//! - [`result`]: the run result ([`RunResult`]); [`replay`]: the result and timeline rebuilt
//!   from a run's events alone.

pub mod analyse;
pub mod executor;
pub mod expr;
pub mod faults;
pub mod handler;
pub mod replay;
pub mod result;
pub mod run;

pub use executor::Executor;
pub use handler::{
    BoxFuture, DuplicateHandler, Failed, GateCtx, GateFn, GateStatus, GateVerdict, HandlerEntry,
    HandlerRegistry, Handlers, Resources, RunResource, RunShared, Services, StageCtx, StageError,
    StageFn,
};
pub use result::{GateRecord, RunResult, RunStatus, StageRecord, StageStatus};
pub use run::{ChannelSink, EventSink, RunRequest, SinkError, VecSink};
