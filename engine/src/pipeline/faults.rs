//! Fault injection for contract tests (`onex test`, docs/contracts.md "Testing a workflow"):
//! a [`FaultPlan`] placed in the run's [`Services`](crate::pipeline::Services) makes a stage or a
//! gate fail, time out or raise an infrastructure error a number of times, replaces a handler
//! by canned outputs, or gives a `command` step an exit code without running its program.
//!
//! The executor consults the plan before it calls a handler or decides a gate, so an injected
//! fault goes through the same retry, gate and event logic as a real one: an injected timeout
//! is retried like a real timeout (it is reported at once instead of waiting the timeout out,
//! so tests stay fast), an injected infrastructure error like a real one, a domain failure
//! never. Without a plan nothing changes.

use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::pipeline::handler::GateStatus;

/// What a fault is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// A stage, by id: its handler (or `outputs:`) is replaced.
    Stage(String),
    /// A gate, by id: its handler or expressions are replaced.
    Gate(String),
}

/// What happens instead.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// A domain failure (never retried): the stage fails, or the gate fails with this code.
    Fail { code: String, message: String },
    /// The step timed out (retried like a timeout).
    Timeout,
    /// An infrastructure error (retried when the stage allows).
    Infra { message: String },
    /// The stage handler returns these outputs instead of running.
    Output(Value),
    /// The gate decides this instead of running.
    Verdict { status: GateStatus, message: String },
    /// A `command` step's program "exits" with this code (and prints this), without running.
    ExitCode {
        code: i32,
        stdout: String,
        stderr: String,
    },
}

/// One fault: a target, an action, and how many times it fires (`None` = every time).
#[derive(Debug)]
pub struct Fault {
    pub target: FaultTarget,
    pub action: FaultAction,
    pub times: Option<u32>,
    fired: AtomicU32,
}

impl Fault {
    pub fn new(target: FaultTarget, action: FaultAction, times: Option<u32>) -> Fault {
        Fault {
            target,
            action,
            times,
            fired: AtomicU32::new(0),
        }
    }

    /// How often it fired so far.
    pub fn fired(&self) -> u32 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Counts one firing if any is left.
    fn fire(&self) -> bool {
        let limit = self.times.unwrap_or(u32::MAX);
        self.fired
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }
}

/// The faults of one run (or one executor's runs).
#[derive(Debug, Default)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

impl FaultPlan {
    pub fn new(faults: Vec<Fault>) -> FaultPlan {
        FaultPlan { faults }
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// The first fault on `target` (other than an exit code, which only `command` takes) with a
    /// firing left; counts the firing.
    pub fn take(&self, target: &FaultTarget) -> Option<&FaultAction> {
        self.take_where(target, |a| !matches!(a, FaultAction::ExitCode { .. }))
    }

    /// The exit code fault on `target` with a firing left; counts the firing.
    pub fn take_exit_code(&self, target: &FaultTarget) -> Option<&FaultAction> {
        self.take_where(target, |a| matches!(a, FaultAction::ExitCode { .. }))
    }

    fn take_where(
        &self,
        target: &FaultTarget,
        kind: impl Fn(&FaultAction) -> bool,
    ) -> Option<&FaultAction> {
        self.faults
            .iter()
            .find(|f| &f.target == target && kind(&f.action) && f.fire())
            .map(|f| &f.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_as_often_as_it_says_then_the_next_one_does() {
        let t = FaultTarget::Stage("s".into());
        let plan = FaultPlan::new(vec![
            Fault::new(
                t.clone(),
                FaultAction::Infra {
                    message: "disk".into(),
                },
                Some(2),
            ),
            Fault::new(t.clone(), FaultAction::Timeout, Some(1)),
            Fault::new(
                t.clone(),
                FaultAction::ExitCode {
                    code: 3,
                    stdout: String::new(),
                    stderr: String::new(),
                },
                None,
            ),
        ]);
        assert!(matches!(plan.take(&t), Some(FaultAction::Infra { .. })));
        assert!(matches!(plan.take(&t), Some(FaultAction::Infra { .. })));
        assert_eq!(plan.take(&t), Some(&FaultAction::Timeout));
        assert_eq!(plan.take(&t), None);
        assert!(plan.take(&FaultTarget::Gate("s".into())).is_none());
        for _ in 0..3 {
            assert!(matches!(
                plan.take_exit_code(&t),
                Some(FaultAction::ExitCode { code: 3, .. })
            ));
        }
        assert_eq!(plan.faults()[0].fired(), 2);
    }
}
