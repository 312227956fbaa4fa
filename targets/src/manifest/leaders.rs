//! A manifest's `[leaders]`: whom each node believes leads.
//!
//! The command runs on every node, and every node is asked at once, so one
//! observation lasts as long as the slowest node's command rather than the
//! sum of them (with a Python command that starts in a second, five nodes
//! asked one after another took five). Each node's answer is what its command
//! printed, one name per line; a node whose command failed is left out of
//! the observation, and the failure is logged in `faultline.log`.

use std::sync::Arc;

use faultline_harness::remote::Remote;

use super::client::LeadersByNode;

/// Leader discovery over `cmds`: (node, where to run it, the rendered command).
pub fn by_node(cmds: Vec<(String, Arc<dyn Remote>, String)>) -> LeadersByNode {
    Arc::new(move || {
        std::thread::scope(|scope| {
            let asks: Vec<_> = cmds
                .iter()
                .map(|(name, r, cmd)| scope.spawn(move || ask(name, r.as_ref(), cmd)))
                .collect();
            asks.into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .collect()
        })
    })
}

/// What node `name` says leads; `None` when its command failed (logged).
fn ask(name: &str, r: &dyn Remote, cmd: &str) -> Option<(String, Vec<String>)> {
    let out = match r.exec(cmd) {
        Ok(o) if o.status == 0 => o,
        Ok(o) => {
            let last = o
                .stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("");
            tracing::debug!(target: "faultline::leaders", node = name, status = o.status, stderr = last, "[leaders] failed");
            return None;
        }
        Err(e) => {
            tracing::debug!(target: "faultline::leaders", node = name, error = %e, "[leaders] could not run");
            return None;
        }
    };
    let named = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Some((name.to_owned(), named))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_harness::remote::{Output, RemoteError, Spawn};
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// A node whose every command takes 300 ms and prints `says`, or fails.
    struct Slow {
        name: String,
        says: Option<&'static str>,
    }

    impl Remote for Slow {
        fn node(&self) -> &str {
            &self.name
        }
        fn host(&self) -> &str {
            "127.0.0.1"
        }
        fn exec(&self, _: &str) -> Result<Output, RemoteError> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(match self.says {
                Some(s) => Output {
                    status: 0,
                    stdout: format!("{s}\n\n"),
                    stderr: String::new(),
                },
                None => Output {
                    status: 1,
                    stdout: String::new(),
                    stderr: "no such table\n".into(),
                },
            })
        }
        fn spawn(&self, _: &Spawn) -> Result<u32, RemoteError> {
            unreachable!()
        }
        fn upload(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            unreachable!()
        }
        fn download(&self, _: &Path, _: &Path) -> Result<(), RemoteError> {
            unreachable!()
        }
    }

    #[test]
    fn every_node_is_asked_at_once_and_a_failing_one_is_left_out() {
        let cmds: Vec<(String, Arc<dyn Remote>, String)> = [
            ("n1", Some("n1")),
            ("n2", Some("n1")),
            ("n3", None),
            ("n4", Some("n4")),
            ("n5", Some("n1")),
        ]
        .into_iter()
        .map(|(n, says)| {
            let r: Arc<dyn Remote> = Arc::new(Slow {
                name: n.into(),
                says,
            });
            (n.to_owned(), r, "leaders".to_owned())
        })
        .collect();
        let f = by_node(cmds);
        let t = Instant::now();
        let seen = f();
        let took = t.elapsed();
        // Five nodes one after another would take 1.5 s.
        assert!(took < Duration::from_millis(900), "took {took:?}");
        let names: Vec<(&str, Vec<&str>)> = seen
            .iter()
            .map(|(n, l)| (n.as_str(), l.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            names,
            [
                ("n1", vec!["n1"]),
                ("n2", vec!["n1"]),
                ("n4", vec!["n4"]),
                ("n5", vec!["n1"])
            ]
        );
    }
}
