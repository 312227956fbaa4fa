//! Leader observations: who each node believes leads, asked while the test runs.
//!
//! The split-brain checker needs to know which nodes acted as leader, and
//! when. The observer asks the target ([`Target::primaries`], which asks every
//! node at once) and records the answers as a `primaries` nemesis event. A
//! claim is known only for the time it took to ask, so each event carries that
//! window: its `time` is when the last answer came in (recorded then, so the
//! history stays in real-time order) and its `observed_from` field is when the
//! asking began, both on the history's clock:
//!
//! ```json
//! {"process":"nemesis","type":"info","f":"primaries","time":2051000000,
//!  "observed_from":2003000000,"value":{"n1":["n1"],"n2":["n1"],"n3":["n3"]}}
//! ```
//!
//! Observations start every `primaries_interval` (0.5 s by default): the
//! interval is measured from start to start, so a slow leader command does not
//! stretch it — an observation that takes longer than the interval is followed
//! at once by the next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_history::Value;
use tokio::time::sleep_until;

use super::client::Target;
use super::recorder::Recorder;

/// Counts of what the observer recorded.
#[derive(Debug, Default)]
pub struct Observed {
    /// Observations recorded.
    pub total: AtomicU64,
    /// Of those, the ones that named at least one leader.
    pub naming_leader: AtomicU64,
}

/// Records `primaries` observations until aborted, if the target can tell
/// who leads; one starts every `period`, or at once when the last took longer.
pub async fn observe(
    target: Arc<dyn Target>,
    rec: Arc<Recorder>,
    period: Duration,
    seen: Arc<Observed>,
) {
    let mut next = tokio::time::Instant::now();
    loop {
        let from = rec.now();
        let began = Instant::now();
        let Some(v) = target.primaries().await else {
            tracing::debug!(
                target: "faultline::leaders",
                "the target cannot tell who leads: no leader observations"
            );
            return;
        };
        let named = names_leader(&v);
        let shown = v.to_string();
        let index = rec.record_observation("primaries", v, from);
        seen.total.fetch_add(1, Ordering::Relaxed);
        if named {
            seen.naming_leader.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(
            target: "faultline::leaders",
            index,
            ms = %format!("{:.1}", began.elapsed().as_secs_f64() * 1e3),
            "leaders observed: {shown}"
        );
        next += period;
        let now = tokio::time::Instant::now();
        if next < now {
            next = now;
        }
        sleep_until(next).await;
    }
}

/// Whether a `primaries` value names any leader at all.
pub fn names_leader(v: &Value) -> bool {
    match v {
        Value::Map(m) => m.iter().any(|(_, l)| names_leader(l)),
        Value::List(l) => !l.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::client::{Client, ClientError};
    use async_trait::async_trait;

    /// A target whose leader discovery takes `took` and names `n1`, or nobody.
    struct Slow {
        took: Duration,
        names: bool,
    }

    #[async_trait]
    impl Target for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        async fn open(&self, _: &str) -> Result<Box<dyn Client>, ClientError> {
            Err(ClientError::Other("no clients".into()))
        }
        async fn primaries(&self) -> Option<Value> {
            tokio::time::sleep(self.took).await;
            let l = if self.names {
                vec![Value::str("n1")]
            } else {
                vec![]
            };
            Some(Value::map(vec![("n1".into(), Value::list(l))]))
        }
    }

    fn observed(
        took_ms: u64,
        period_ms: u64,
        names: bool,
    ) -> (Vec<faultline_history::Event>, Arc<Observed>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let rec = Arc::new(Recorder::start(&path).unwrap());
        let seen = Arc::new(Observed::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let target = Arc::new(Slow {
                took: Duration::from_millis(took_ms),
                names,
            });
            let task = tokio::spawn(observe(
                target,
                rec.clone(),
                Duration::from_millis(period_ms),
                seen.clone(),
            ));
            tokio::time::sleep(Duration::from_millis(1000)).await;
            task.abort();
            let _ = task.await;
        });
        Arc::into_inner(rec).unwrap().finish().unwrap();
        let h = faultline_history::read_path(&path, None).unwrap().history;
        (h.events().to_vec(), seen)
    }

    #[test]
    fn each_observation_carries_its_own_window_and_they_start_every_interval() {
        let (events, seen) = observed(150, 200, true);
        assert!(events.len() >= 3, "{} observations in 1 s", events.len());
        assert_eq!(seen.total.load(Ordering::Relaxed), events.len() as u64);
        assert_eq!(
            seen.naming_leader.load(Ordering::Relaxed),
            events.len() as u64
        );
        let mut starts = Vec::new();
        for e in &events {
            assert_eq!(&*e.f, "primaries");
            let from = e.extra("observed_from").and_then(Value::as_int).unwrap();
            let to = e.time.unwrap();
            // The window is the time the answers took, not the gap between observations.
            assert!(
                to - from >= 145_000_000 && to - from < 190_000_000,
                "{from}..{to}"
            );
            starts.push(from);
        }
        // Start to start (200 ms), not start + duration + interval (350 ms).
        let gaps: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| (180_000_000..300_000_000).contains(g)),
            "gaps {gaps:?}"
        );
    }

    #[test]
    fn a_slow_observation_is_followed_at_once_and_silence_is_counted() {
        let (events, seen) = observed(150, 50, false);
        let spans: Vec<(i64, i64)> = events
            .iter()
            .map(|e| {
                (
                    e.extra("observed_from").and_then(Value::as_int).unwrap(),
                    e.time.unwrap(),
                )
            })
            .collect();
        for w in spans.windows(2) {
            assert!(
                w[1].0 - w[0].1 < 20_000_000,
                "no wait after a slow one: {spans:?}"
            );
        }
        assert!(seen.total.load(Ordering::Relaxed) >= 4);
        assert_eq!(seen.naming_leader.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn naming_a_leader() {
        assert!(!names_leader(&Value::map(vec![(
            "n1".into(),
            Value::list(vec![])
        )])));
        assert!(names_leader(&Value::list(vec![Value::str("n2")])));
        assert!(!names_leader(&Value::Null));
    }
}
