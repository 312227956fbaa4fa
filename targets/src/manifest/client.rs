//! The JSON-lines client protocol: a client in any language, one process
//! per worker.
//!
//! faultline starts the manifest's `[client] command` (with `sh -c`, in the
//! manifest's directory) for each worker and talks to it one JSON object per
//! line: `open` (id 0, the node, its address, the workload and every node's
//! address), then `invoke` (`id`, `f`, `value`), and `close`. The client
//! answers each id once with `ok` (and the completion's value), `fail` or
//! `info` (with an `error`).
//!
//! Who acknowledged it: an answer may carry `acked_by`, the node the client
//! *knows* acknowledged the operation having applied it itself (a write was
//! in that node's state when it answered; a read returned that node's
//! state), and `node`, the node it talked to. Without `acked_by` the
//! completion is recorded as *sent to* that node (`node`, else the worker's
//! node) and no checker credits that node with it: many databases relay
//! writes to their leader, and a client that names the server it talked to
//! would make a deposed leader look like it took the real leader's writes.
//! (Before `acked_by` existed, `node` was the only field; it is still read,
//! as the conservative "sent to".)
//!
//! The invariant is the one every built-in client keeps: an operation that
//! may have happened is never reported as failed. A client that dies, or
//! does not answer within the op timeout, leaves its operation `info`; the
//! runner then closes it (this kills the process) and opens a new one under
//! a new process id. Protocol errors — a line that is not JSON, an unknown
//! or stale id, a second answer, an unknown type — are written to the run's
//! `clients.log` with the worker's number and the line, and otherwise
//! ignored: they never crash the run. The client's standard error goes to
//! the same log.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use faultline_harness::remote::{own_session, signal_group, Signal};
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Outcome, Target};
use faultline_history::Value;
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// What each node believes about who leads: (node, the leaders it names).
pub type LeadersByNode = Arc<dyn Fn() -> Vec<(String, Vec<String>)> + Send + Sync>;

/// Where protocol errors and clients' standard error go.
#[derive(Clone)]
pub struct ClientLog(Arc<Mutex<Option<std::fs::File>>>);

impl ClientLog {
    /// Appends to `path` (nothing is logged if it cannot be opened).
    pub fn open(path: &std::path::Path) -> ClientLog {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok();
        ClientLog(Arc::new(Mutex::new(f)))
    }

    /// Writes one line.
    pub fn line(&self, worker: u64, text: &str) {
        if let Some(f) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = writeln!(f, "[worker {worker}] {}", text.trim_end());
        }
    }
}

/// Clients that are programs speaking JSON lines.
pub struct JsonlTarget {
    /// The target's name.
    pub name: String,
    /// The client command (rendered).
    pub command: String,
    /// Its working directory (the manifest's).
    pub cwd: PathBuf,
    /// Extra environment (`FAULTLINE_OPT_*`).
    pub env: Vec<(String, String)>,
    /// The workload.
    pub workload: String,
    /// Every node: name and address.
    pub nodes: Vec<(String, String)>,
    /// The protocol log.
    pub log: ClientLog,
    /// Per-node leader discovery for `primaries` (node, what it believes).
    pub leaders_by_node: Option<LeadersByNode>,
    /// The client reads one node's own copy when opened with `"replica": true`.
    pub replica_reads: bool,
    /// This target's clients are opened for replica reads.
    replica: bool,
    workers: AtomicU64,
}

impl JsonlTarget {
    /// A target whose clients run `command` in `cwd`.
    pub fn new(name: &str, command: String, cwd: PathBuf, workload: &str) -> JsonlTarget {
        JsonlTarget {
            name: name.to_owned(),
            command,
            cwd,
            env: Vec::new(),
            workload: workload.to_owned(),
            nodes: Vec::new(),
            log: ClientLog(Arc::new(Mutex::new(None))),
            leaders_by_node: None,
            replica_reads: false,
            replica: false,
            workers: AtomicU64::new(0),
        }
    }

    /// The same clients, opened for `workload`.
    fn like(&self, workload: &str) -> JsonlTarget {
        let mut t = JsonlTarget::new(&self.name, self.command.clone(), self.cwd.clone(), workload);
        t.env = self.env.clone();
        t.nodes = self.nodes.clone();
        t.log = self.log.clone();
        t.leaders_by_node = self.leaders_by_node.clone();
        t.replica_reads = self.replica_reads;
        t
    }

    fn open_message(&self, node: &str, addr: &str) -> Json {
        let nodes: serde_json::Map<String, Json> = self
            .nodes
            .iter()
            .map(|(n, a)| (n.clone(), Json::from(a.clone())))
            .collect();
        let mut m = json!({"type": "open", "id": 0, "node": node, "addr": addr,
               "workload": self.workload, "nodes": nodes});
        if self.replica {
            m["replica"] = Json::Bool(true);
        }
        m
    }
}

/// One running client program.
pub struct JsonlClient {
    worker: u64,
    node: String,
    /// The process group the client leads (its `sh -c` and what that runs).
    group: Option<u32>,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    answered: std::collections::HashSet<u64>,
    log: ClientLog,
    /// The last non-empty line the client wrote to standard error.
    last_err: Arc<Mutex<String>>,
    /// The task copying standard error to the log (done once it closes).
    err_task: Option<tokio::task::JoinHandle<()>>,
}

/// An answer, read and checked.
enum Answer {
    Done(Outcome, Served),
    Gone(String),
}

/// What an answer says about where its operation went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Served {
    /// `acked_by`: the node known to have acknowledged it.
    pub acked_by: Option<String>,
    /// `node`: the node the client talked to.
    pub node: Option<String>,
}

impl JsonlClient {
    async fn send(&mut self, msg: &Json) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("client closed".into());
        };
        let mut line = msg.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("client's stdin: {e}"))?;
        stdin
            .flush()
            .await
            .map_err(|e| format!("client's stdin: {e}"))
    }

    /// Why the client's standard output ended: its exit status and the last
    /// line of its standard error (waiting a moment for both).
    /// `fallback` when it has not exited (within a second).
    async fn exited(&mut self, fallback: String) -> String {
        let Some(status) = tokio::time::timeout(Duration::from_secs(1), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
        else {
            return fallback;
        };
        if let Some(t) = self.err_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
        let how = match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(c), _) => format!(" with status {c}"),
            (None, Some(sig)) => format!(" on signal {sig}"),
            _ => String::new(),
        };
        let last = self
            .last_err
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if last.is_empty() {
            format!("the client exited{how} (nothing on its stderr)")
        } else {
            format!("the client exited{how}: {last}")
        }
    }

    /// Reads lines until the answer to `id`; `value` is the invoked value,
    /// the completion's value when the answer carries none.
    async fn answer(&mut self, id: u64, value: &Value) -> Answer {
        loop {
            let line = match self.lines.next_line().await {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Answer::Gone(self.exited("the client closed its stdout".into()).await)
                }
                Err(e) => return Answer::Gone(format!("the client's stdout: {e}")),
            };
            if line.trim().is_empty() {
                continue;
            }
            match parse_answer(&line, id, value) {
                Parsed::Answer(outcome, node) => {
                    self.answered.insert(id);
                    return Answer::Done(outcome, node);
                }
                Parsed::OtherId(other) if self.answered.contains(&other) => self
                    .log
                    .line(self.worker, &format!("protocol error: a second answer to id {other}: {line}")),
                Parsed::OtherId(other) => self.log.line(
                    self.worker,
                    &format!("protocol error: an answer to unknown or stale id {other} (waiting for {id}): {line}"),
                ),
                Parsed::Bad(why) => self
                    .log
                    .line(self.worker, &format!("protocol error: {why}: {line}")),
            }
        }
    }
}

impl Served {
    /// The completion of an operation the worker of `home` sent: acknowledged
    /// by `acked_by` if the client said so, else only *sent to* `node` (or `home`).
    pub fn completion(self, outcome: Outcome, home: &str) -> Completion {
        match self.acked_by {
            Some(acked) => Completion {
                outcome,
                sent_to: self.node.filter(|n| *n != acked),
                node: Some(acked),
            },
            None => Completion::sent(outcome, self.node.as_deref().unwrap_or(home)),
        }
    }
}

/// What one line from a client says.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// The answer to the id awaited.
    Answer(Outcome, Served),
    /// An answer to another id.
    OtherId(u64),
    /// Not an answer.
    Bad(String),
}

/// Reads one line from a client awaiting `id`, whose invocation carried
/// `value`. Never panics, whatever the line.
pub fn parse_answer(line: &str, id: u64, value: &Value) -> Parsed {
    let j: Json = match serde_json::from_str(line) {
        Ok(j) => j,
        Err(e) => return Parsed::Bad(format!("not JSON ({e})")),
    };
    let Some(obj) = j.as_object() else {
        return Parsed::Bad("not a JSON object".into());
    };
    let Some(got) = obj.get("id").and_then(Json::as_u64) else {
        return Parsed::Bad("no numeric `id`".into());
    };
    if got != id {
        return Parsed::OtherId(got);
    }
    let node_field = |name: &str| match obj.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{name}` must be a node name or null, not {other}")),
    };
    let served = match node_field("acked_by") {
        Ok(acked_by) => Served {
            acked_by,
            // Read as before `acked_by` existed: a string, or nothing.
            node: node_field("node").ok().flatten(),
        },
        Err(e) => return Parsed::Bad(e),
    };
    let error = obj
        .get("error")
        .map(|e| {
            e.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string())
        })
        .unwrap_or_default();
    let outcome = match obj.get("type").and_then(Json::as_str) {
        Some("ok") => match obj.get("value") {
            None => Outcome::Ok(value.clone()),
            Some(v) => match serde_json::from_value::<Value>(v.clone()) {
                Ok(v) => Outcome::Ok(v),
                Err(e) => return Parsed::Bad(format!("`value` is not a history value ({e})")),
            },
        },
        Some("fail") => Outcome::Fail(if error.is_empty() {
            "failed".into()
        } else {
            error
        }),
        Some("info") => Outcome::Info(if error.is_empty() {
            "unknown".into()
        } else {
            error
        }),
        Some(other) => return Parsed::Bad(format!("unknown type {other:?} (ok, fail or info)")),
        None => return Parsed::Bad("no `type`".into()),
    };
    Parsed::Answer(outcome, served)
}

#[async_trait]
impl Client for JsonlClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        self.next_id += 1;
        let id = self.next_id;
        let value = serde_json::to_value(&op.value).unwrap_or(Json::Null);
        let msg = json!({"type": "invoke", "id": id, "f": op.f, "value": value});
        if let Err(e) = self.send(&msg).await {
            // Nothing was delivered: the operation cannot have happened.
            let e = self.exited(e).await;
            return Completion::sent(Outcome::Fail(e), &self.node);
        }
        match self.answer(id, &op.value).await {
            Answer::Done(outcome, served) => served.completion(outcome, &self.node),
            Answer::Gone(why) => {
                self.log.line(self.worker, &why);
                Completion::sent(Outcome::Info(why), &self.node)
            }
        }
    }

    async fn close(&mut self) {
        let _ = self.send(&json!({"type": "close"})).await;
        self.stdin = None;
        if tokio::time::timeout(Duration::from_secs(1), self.child.wait())
            .await
            .is_err()
        {
            self.kill_group();
            let _ = self.child.kill().await;
        }
    }
}

impl JsonlClient {
    /// Kills the client's whole process group: `sh -c` may not exec the
    /// program it runs, and killing the shell alone would orphan it.
    fn kill_group(&mut self) {
        if let Some(g) = self.group.take() {
            signal_group(g, Signal::Kill);
        }
    }
}

impl Drop for JsonlClient {
    fn drop(&mut self) {
        // A client dropped without `close` (the runner gave up on it).
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
        }
    }
}

#[async_trait]
impl Target for JsonlTarget {
    fn name(&self) -> &str {
        &self.name
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        let addr = self
            .nodes
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| ClientError::NoNode {
                target: self.name.clone(),
                node: node.to_owned(),
            })?;
        let worker = self.workers.fetch_add(1, Ordering::Relaxed);
        let mut cmd = Command::new("sh");
        // Its own session: a Ctrl-C at the terminal reaches faultline, not
        // the client (which would die mid-operation with a traceback).
        own_session(cmd.as_std_mut());
        let mut child = cmd
            .arg("-c")
            .arg(&self.command)
            .current_dir(&self.cwd)
            .envs(self.env.iter().cloned())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ClientError::Start {
                command: self.command.clone(),
                source,
            })?;
        let group = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ClientError::Other("the client's pipes".into()));
        };
        let log = self.log.clone();
        let last_err = Arc::new(Mutex::new(String::new()));
        let last = last_err.clone();
        let err_task = tokio::spawn(async move {
            let mut err = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = err.next_line().await {
                log.line(worker, &format!("stderr: {l}"));
                if !l.trim().is_empty() {
                    *last.lock().unwrap_or_else(|e| e.into_inner()) = l.trim().to_owned();
                }
            }
        });
        let mut c = JsonlClient {
            worker,
            node: node.to_owned(),
            group,
            child,
            stdin: Some(stdin),
            lines: BufReader::new(stdout).lines(),
            next_id: 0,
            answered: Default::default(),
            log: self.log.clone(),
            last_err,
            err_task: Some(err_task),
        };
        if let Err(e) = c.send(&self.open_message(node, &addr)).await {
            return Err(ClientError::Connect {
                node: node.to_owned(),
                why: c.exited(e).await,
            });
        }
        match c.answer(0, &Value::Null).await {
            Answer::Done(Outcome::Ok(_), _) => Ok(Box::new(c)),
            Answer::Done(Outcome::Fail(e) | Outcome::Info(e), _) => {
                c.close().await;
                Err(ClientError::Connect {
                    node: node.to_owned(),
                    why: e,
                })
            }
            Answer::Gone(why) => Err(ClientError::Connect {
                node: node.to_owned(),
                why,
            }),
        }
    }

    fn with_workload(&self, workload: &str) -> Option<Arc<dyn Target>> {
        Some(Arc::new(self.like(workload)))
    }

    fn reads_replicas(&self) -> bool {
        self.replica_reads
    }

    async fn open_replica(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        let mut t = self.like(&self.workload);
        t.replica = true;
        t.workers = AtomicU64::new(self.workers.fetch_add(1, Ordering::Relaxed));
        t.open(node).await
    }

    async fn primaries(&self) -> Option<Value> {
        let f = self.leaders_by_node.clone()?;
        let seen = tokio::task::spawn_blocking(move || f()).await.ok()?;
        Some(Value::map(
            seen.into_iter()
                .map(|(n, ls)| {
                    (
                        n.into(),
                        Value::list(ls.into_iter().map(|l| Value::str(&l)).collect()),
                    )
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_are_read_by_id_and_type() {
        let v = Value::Int(5);
        assert_eq!(
            parse_answer(r#"{"id":3,"type":"ok"}"#, 3, &v),
            Parsed::Answer(Outcome::Ok(Value::Int(5)), Served::default())
        );
        assert_eq!(
            parse_answer(
                r#"{"id":3,"type":"ok","value":[1,null],"node":"n2"}"#,
                3,
                &v
            ),
            Parsed::Answer(
                Outcome::Ok(Value::list(vec![Value::Int(1), Value::Null])),
                Served {
                    acked_by: None,
                    node: Some("n2".into())
                }
            )
        );
        assert_eq!(
            parse_answer(r#"{"id":3,"type":"ok","acked_by":"n3","node":"n2"}"#, 3, &v),
            Parsed::Answer(
                Outcome::Ok(Value::Int(5)),
                Served {
                    acked_by: Some("n3".into()),
                    node: Some("n2".into())
                }
            )
        );
        assert_eq!(
            parse_answer(
                r#"{"id":3,"type":"info","error":"timeout","acked_by":null}"#,
                3,
                &v
            ),
            Parsed::Answer(Outcome::Info("timeout".into()), Served::default())
        );
        assert!(
            matches!(parse_answer(r#"{"id":3,"type":"ok","acked_by":7}"#, 3, &v), Parsed::Bad(m) if m.contains("`acked_by` must be a node name"))
        );
        assert_eq!(
            parse_answer(r#"{"id":2,"type":"ok"}"#, 3, &v),
            Parsed::OtherId(2)
        );
        assert!(matches!(parse_answer("{", 3, &v), Parsed::Bad(m) if m.starts_with("not JSON")));
        assert!(
            matches!(parse_answer(r#"{"id":3,"type":"maybe"}"#, 3, &v), Parsed::Bad(m) if m.contains("unknown type"))
        );
    }

    #[tokio::test]
    async fn replica_reads_open_with_replica_only_when_the_manifest_says_so() {
        let d = tempfile::tempdir().unwrap();
        let seen = d.path().join("open.json");
        let cmd = format!(
            "read l; echo \"$l\" >> {}; echo '{{\"id\":0,\"type\":\"ok\"}}'; cat >/dev/null",
            seen.display()
        );
        let mut t = JsonlTarget::new("t", cmd, d.path().to_path_buf(), "set");
        t.nodes = vec![("n1".into(), "10.0.0.11".into())];
        assert!(!t.reads_replicas(), "off unless the manifest says so");
        t.open("n1").await.unwrap().close().await;
        t.replica_reads = true;
        assert!(t.reads_replicas());
        t.open_replica("n1").await.unwrap().close().await;
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&seen)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].get("replica").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["replica"], true, "{}", lines[1]);
        assert_eq!(lines[1]["node"], "n1");
    }

    #[tokio::test]
    async fn a_client_that_exits_says_why_with_its_last_stderr_line() {
        let d = tempfile::tempdir().unwrap();
        let mut t = JsonlTarget::new(
            "t",
            "echo starting >&2; echo 'ModuleNotFoundError: No module named pymysql' >&2; exit 3"
                .into(),
            d.path().to_path_buf(),
            "register",
        );
        t.nodes = vec![("n1".into(), "10.0.0.11".into())];
        let e = t
            .open("n1")
            .await
            .err()
            .expect("the client exited")
            .to_string();
        assert_eq!(
            e,
            "n1: the client exited with status 3: ModuleNotFoundError: No module named pymysql"
        );
        t.command = "exit 0".into();
        let e = t
            .open("n1")
            .await
            .err()
            .expect("the client exited")
            .to_string();
        assert_eq!(
            e,
            "n1: the client exited with status 0 (nothing on its stderr)"
        );
    }

    #[test]
    fn only_acked_by_names_the_node_that_acknowledged_it() {
        let ok = || Outcome::Ok(Value::Null);
        let served = |acked_by: Option<&str>, node: Option<&str>| Served {
            acked_by: acked_by.map(Into::into),
            node: node.map(Into::into),
        };
        let got = |s: Served| {
            let c = s.completion(ok(), "n1");
            (c.node, c.sent_to)
        };
        let some = |s: &str| Some(s.to_owned());
        // Silent, or naming only the server talked to: sent to, not acknowledged by.
        assert_eq!(got(served(None, None)), (None, some("n1")));
        assert_eq!(got(served(None, Some("n2"))), (None, some("n2")));
        // Said so: acknowledged by.
        assert_eq!(got(served(Some("n3"), None)), (some("n3"), None));
        assert_eq!(got(served(Some("n3"), Some("n3"))), (some("n3"), None));
        assert_eq!(
            got(served(Some("n3"), Some("n2"))),
            (some("n3"), some("n2"))
        );
    }

    #[tokio::test]
    async fn a_client_leads_its_own_session_and_close_ends_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ids");
        // The shell records its pid and session, starts a helper that would
        // outlive a kill of the shell alone, answers `open`, then never
        // answers `close` (so close has to kill).
        let cmd = format!(
            "echo $$ $(cut -d' ' -f6 /proc/$$/stat) > {o}; sleep 60 & echo $! >> {o}; \
             read l; echo '{{\"id\":0,\"type\":\"ok\"}}'; sleep 60",
            o = out.display()
        );
        let mut t = JsonlTarget::new("t", cmd, dir.path().to_owned(), "register");
        t.nodes = vec![("n1".into(), "127.0.0.1".into())];
        let mut c = t.open("n1").await.unwrap();
        let ids = std::fs::read_to_string(&out).unwrap();
        let nums: Vec<u32> = ids.split_whitespace().map(|x| x.parse().unwrap()).collect();
        let (pid, sid, helper) = (nums[0], nums[1], nums[2]);
        assert_eq!(pid, sid, "the client leads its own session");
        let mine = faultline_harness::remote::session_of(std::process::id())
            .unwrap()
            .0;
        assert_ne!(sid, mine);
        c.close().await;
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{helper}/stat")).map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
        });
        assert!(gone, "the client's helper outlived close");
    }

    proptest! {
        #[test]
        fn any_line_is_read_without_panicking(line in ".{0,200}") {
            let _ = parse_answer(&line, 1, &Value::Null);
        }

        #[test]
        fn any_json_object_is_read_without_panicking(
            id in proptest::option::of(0u64..5),
            ty in proptest::option::of(prop_oneof![Just("ok"), Just("fail"), Just("info"), Just("x")]),
            value in proptest::option::of(prop_oneof![Just(json!(1)), Just(json!([1, {"a": null}])), Just(json!(1.5)), Just(json!("s"))]),
            acked_by in proptest::option::of(prop_oneof![Just(json!("n1")), Just(json!(null)), Just(json!("")), Just(json!(2)), Just(json!(["n1"]))]),
            node in proptest::option::of(prop_oneof![Just(json!("n2")), Just(json!(null)), Just(json!({"n": 1}))]),
        ) {
            let mut o = serde_json::Map::new();
            if let Some(id) = id { o.insert("id".into(), json!(id)); }
            if let Some(t) = ty { o.insert("type".into(), json!(t)); }
            if let Some(v) = value { o.insert("value".into(), v); }
            if let Some(a) = acked_by { o.insert("acked_by".into(), a); }
            if let Some(n) = node { o.insert("node".into(), n); }
            let _ = parse_answer(&Json::Object(o).to_string(), 1, &Value::Null);
        }
    }
}
