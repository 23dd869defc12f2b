//! A run's events in `seq` order (docs/bus.md "Order"). No broker orders across topics, so
//! observers (CLI progress, `onex trace`, `onex events replay`) feed what they receive into a
//! [`RunOrderer`], which releases each run's events by seq, drops duplicates (same event_id or
//! an already released seq), waits up to `gap_wait` (2 s in the spec) for a missing seq and then
//! reports the gap, and keeps only the highest attempt of a run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::events::Envelope;

/// What the orderer releases.
// Events are the common case and are moved straight out; boxing them would cost an allocation
// per event to save space on the rare Gap.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Event(Envelope),
    /// Seqs `from..to` of the run never came within the gap wait; later events follow.
    Gap {
        correlation_id: Uuid,
        from: u64,
        to: u64,
    },
}

#[derive(Default)]
struct Run {
    attempt: u32,
    next_seq: u64,
    pending: BTreeMap<u64, Envelope>,
    seen: HashSet<Uuid>,
    /// When the run started waiting for `next_seq` while later seqs were pending.
    waiting_since: Option<Instant>,
}

/// Per-run reordering buffer; see the module docs.
pub struct RunOrderer {
    gap_wait: Duration,
    runs: HashMap<Uuid, Run>,
}

impl Default for RunOrderer {
    fn default() -> Self {
        RunOrderer::new(Duration::from_secs(2))
    }
}

impl RunOrderer {
    pub fn new(gap_wait: Duration) -> Self {
        RunOrderer {
            gap_wait,
            runs: HashMap::new(),
        }
    }

    /// Accept one received event; returns what is now releasable, in order.
    pub fn push(&mut self, env: Envelope) -> Vec<Ordered> {
        self.push_at(env, Instant::now())
    }

    pub fn push_at(&mut self, env: Envelope, now: Instant) -> Vec<Ordered> {
        // Dead letters are outside every run's sequence (seq 0).
        if env.seq == 0 {
            return vec![Ordered::Event(env)];
        }
        let run = self.runs.entry(env.correlation_id).or_insert_with(|| Run {
            attempt: env.attempt,
            next_seq: 1,
            ..Default::default()
        });
        if !run.seen.insert(env.event_id) {
            return Vec::new();
        }
        if env.attempt < run.attempt && env.seq != 1 {
            return Vec::new();
        }
        if env.attempt > run.attempt {
            // A redelivered run: its own events continue from seq 2 (PromptSubmitted is kept).
            run.attempt = env.attempt;
            run.pending
                .retain(|s, e| *s == 1 || e.attempt >= env.attempt);
            run.next_seq = run.next_seq.min(2);
            run.waiting_since = None;
        }
        if env.seq < run.next_seq {
            return Vec::new();
        }
        run.pending.entry(env.seq).or_insert(env);
        let mut out = Vec::new();
        release(run, &mut out);
        if !run.pending.is_empty() && run.waiting_since.is_none() {
            run.waiting_since = Some(now);
        }
        out
    }

    /// Release runs whose gap wait is over (call periodically, e.g. at [`Self::next_deadline`]).
    pub fn flush_gaps(&mut self, now: Instant) -> Vec<Ordered> {
        let mut out = Vec::new();
        for (id, run) in self.runs.iter_mut() {
            let Some(since) = run.waiting_since else {
                continue;
            };
            if now.duration_since(since) < self.gap_wait {
                continue;
            }
            if let Some((&first, _)) = run.pending.first_key_value() {
                out.push(Ordered::Gap {
                    correlation_id: *id,
                    from: run.next_seq,
                    to: first,
                });
                run.next_seq = first;
                run.waiting_since = None;
                release(run, &mut out);
                if !run.pending.is_empty() {
                    run.waiting_since = Some(now);
                }
            }
        }
        out
    }

    /// When the earliest gap wait ends, if any run is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.runs
            .values()
            .filter_map(|r| r.waiting_since)
            .min()
            .map(|t| t + self.gap_wait)
    }

    /// Highest seq released so far for a run (0 if none).
    pub fn released_up_to(&self, correlation_id: &Uuid) -> u64 {
        self.runs
            .get(correlation_id)
            .map_or(0, |r| r.next_seq.saturating_sub(1))
    }
}

fn release(run: &mut Run, out: &mut Vec<Ordered>) {
    while let Some(e) = run.pending.remove(&run.next_seq) {
        run.next_seq += 1;
        run.waiting_since = None;
        out.push(Ordered::Event(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Component, EventSource, EventStatus, TraceContext};

    fn ev(run: Uuid, seq: u64, attempt: u32) -> Envelope {
        Envelope {
            event_id: Uuid::now_v7(),
            event_type: "StageStarted".into(),
            schema_version: "1.0.0".into(),
            correlation_id: run,
            causation_id: None,
            seq,
            attempt,
            timestamp: Envelope::now_timestamp(),
            stage: "build".into(),
            status: EventStatus::InProgress,
            source: EventSource {
                component: Component::Orchestrator,
                instance_id: "t".into(),
                version: "0".into(),
            },
            trace: TraceContext {
                traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                tracestate: None,
            },
            payload: serde_json::json!({}),
            workflow: None,
            outcome: None,
        }
    }

    fn seqs(v: &[Ordered]) -> Vec<u64> {
        v.iter()
            .filter_map(|o| match o {
                Ordered::Event(e) => Some(e.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let run = Uuid::now_v7();
        let mut o = RunOrderer::default();
        let e2 = ev(run, 2, 1);
        assert!(o.push(e2.clone()).is_empty());
        assert!(o.push(e2).is_empty(), "duplicate event_id");
        assert_eq!(seqs(&o.push(ev(run, 3, 1))), Vec::<u64>::new());
        assert_eq!(seqs(&o.push(ev(run, 1, 1))), vec![1, 2, 3]);
        assert!(o.push(ev(run, 2, 1)).is_empty(), "seq already released");
        assert_eq!(o.released_up_to(&run), 3);
    }

    #[test]
    fn reports_a_gap_after_the_wait() {
        let run = Uuid::now_v7();
        let mut o = RunOrderer::new(Duration::from_secs(2));
        let t0 = Instant::now();
        o.push_at(ev(run, 1, 1), t0);
        assert!(o.push_at(ev(run, 3, 1), t0).is_empty());
        assert!(o.flush_gaps(t0 + Duration::from_secs(1)).is_empty());
        let out = o.flush_gaps(t0 + Duration::from_secs(2));
        assert_eq!(
            out[0],
            Ordered::Gap {
                correlation_id: run,
                from: 2,
                to: 3
            }
        );
        assert_eq!(seqs(&out), vec![3]);
        assert_eq!(o.next_deadline(), None);
    }

    #[test]
    fn a_higher_attempt_replaces_the_lower_one() {
        let run = Uuid::now_v7();
        let mut o = RunOrderer::default();
        assert_eq!(seqs(&o.push(ev(run, 1, 1))), vec![1]);
        assert_eq!(seqs(&o.push(ev(run, 2, 1))), vec![2]);
        assert_eq!(seqs(&o.push(ev(run, 3, 1))), vec![3]);
        // attempt 2 restarts at seq 2; attempt 1's late events are dropped
        assert_eq!(seqs(&o.push(ev(run, 2, 2))), vec![2]);
        assert!(o.push(ev(run, 4, 1)).is_empty());
        assert_eq!(seqs(&o.push(ev(run, 3, 2))), vec![3]);
    }
}
