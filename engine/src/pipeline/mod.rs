//! The executor: builds the stage DAG of an executable contract and runs it, stage by stage and
//! gate by gate, emitting every state change as an event.
//!
//! - [`expr`]: the expression language of contracts (gates, `when`, payloads, result).
//! - [`handler`]: what handlers get and return; the registry interface.
//! - [`run`]: the run request, event sinks and the emitter that numbers a run's events.
//! - [`executor`]: scheduling, timeouts, retries, gates, records, terminal events.
//! - [`result`]: the run result (`PipelineResult`); [`replay`]: the result and timeline rebuilt
//!   from a run's events alone.

pub mod executor;
pub mod expr;
pub mod handler;
pub mod replay;
pub mod result;
pub mod run;

pub use executor::Executor;
pub use handler::{
    BoxFuture, Failed, GateCtx, GateFn, GateStatus, GateVerdict, HandlerRegistry, Resources,
    RunResource, RunShared, Services, StageCtx, StageError, StageFn,
};
pub use result::{GateRecord, PipelineResult, RunStatus, StageRecord, StageStatus};
pub use run::{ChannelSink, EventSink, PromptOptions, RunRequest, SinkError, VecSink};
