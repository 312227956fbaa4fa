//! The S3 workloads on Garage: `register` (one object per key, PUT and GET)
//! and `set` (one object per element, read back with a LIST).
//!
//! Garage keeps every object in a table replicated on `replication_factor`
//! nodes; concurrent PUTs of one key are resolved by last-write-wins on the
//! timestamp the receiving node stamped from its own clock. A PUT returns
//! once a write quorum stored the version, a GET or LIST asks a read quorum
//! (both one node in `dangerous` mode, reads only in `degraded`). The
//! invariant this module keeps is the honest outcome: `ok` only on a 2xx,
//! `fail` only when the request surely changed nothing (never sent, refused
//! with a 4xx, or a read), `info` for a write whose answer was lost or was a
//! server error. A GET of a missing object is a read of nil.

use faultline_harness::runner::Outcome;
use faultline_history::Value;

use super::api::{status_error, xml_field, xml_fields, Api, ReqError};

/// The bucket every workload uses.
pub const BUCKET: &str = "faultline";

/// The longest LIST: pages of 1,000 keys (a set read of more elements
/// takes several pages, each its own quorum read).
const MAX_PAGES: usize = 1_000;

fn object(kind: &str, k: &Value) -> String {
    format!("/{BUCKET}/{kind}{k}")
}

/// Reads register `k`: its value, or nil if it has none.
async fn get(api: &Api, k: &Value) -> Result<Value, ReqError> {
    let r = api
        .call("s3", "GET", &object("r", k), &[], &[], Vec::new())
        .await?;
    match r.status {
        200..=299 => {
            let text = String::from_utf8_lossy(&r.body);
            Ok(text
                .trim()
                .parse::<i64>()
                .map(Value::Int)
                .unwrap_or_else(|_| Value::str(text.trim())))
        }
        404 => Ok(Value::Null),
        _ => Err(status_error(&api.node, &r)),
    }
}

/// Stores `body` as object `path`.
async fn put(api: &Api, path: &str, body: String) -> Result<(), ReqError> {
    let r = api
        .call("s3", "PUT", path, &[], &[], body.into_bytes())
        .await?;
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(status_error(&api.node, &r))
    }
}

/// Every element of the set: the keys under `s`, page by page.
async fn list(api: &Api) -> Result<Value, ReqError> {
    let mut elements = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut q = vec![
            ("list-type".to_string(), "2".to_string()),
            ("prefix".to_string(), "s".to_string()),
        ];
        if let Some(t) = &token {
            q.push(("continuation-token".to_string(), t.clone()));
        }
        let r = api
            .call("s3", "GET", &format!("/{BUCKET}/"), &q, &[], Vec::new())
            .await?;
        if !(200..300).contains(&r.status) {
            return Err(status_error(&api.node, &r));
        }
        let text = String::from_utf8_lossy(&r.body);
        for key in xml_fields(&text, "Key") {
            if let Some(n) = key.strip_prefix('s').and_then(|n| n.parse::<i64>().ok()) {
                elements.push(n);
            }
        }
        token = match xml_field(&text, "IsTruncated").as_deref() {
            Some("true") => xml_field(&text, "NextContinuationToken"),
            _ => None,
        };
        if token.is_none() {
            elements.sort_unstable();
            elements.dedup();
            return Ok(Value::list(elements.into_iter().map(Value::Int).collect()));
        }
    }
    Err(ReqError::Unknown(format!(
        "{}: LIST did not end after {MAX_PAGES} pages",
        api.node
    )))
}

/// One operation of the S3 workloads: its value, or how it went wrong.
pub async fn perform(api: &Api, f: &str, v: &Value) -> Result<Value, ReqError> {
    match (f, v.as_tuple()) {
        ("read", Some((k, _))) => get(api, k)
            .await
            .map(|x| Value::list(vec![k.clone(), x])),
        ("write", Some((k, x))) => put(api, &object("r", k), x.to_string())
            .await
            .map(|()| v.clone()),
        ("add", _) => put(api, &object("s", v), v.to_string())
            .await
            .map(|()| v.clone()),
        ("read", None) => list(api).await,
        _ => Err(ReqError::Refused(format!(
            "garage's S3 client does not serve {f} {v}"
        ))),
    }
}

/// The outcome of an operation that ended with `done`; `write` says whether
/// it could have changed anything.
pub fn outcome(done: Result<Value, ReqError>, write: bool) -> Outcome {
    match done {
        Ok(v) => Outcome::Ok(v),
        Err(ReqError::Unsent(e) | ReqError::Refused(e)) => Outcome::Fail(e),
        // A read changes nothing: failing it is always safe.
        Err(ReqError::Unknown(e)) if !write => Outcome::Fail(e),
        Err(ReqError::Unknown(e)) => Outcome::Info(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unknown_write_is_info() {
        let unknown = || Err(ReqError::Unknown("n1: timed out".into()));
        assert!(matches!(outcome(unknown(), true), Outcome::Info(_)));
        assert!(matches!(outcome(unknown(), false), Outcome::Fail(_)));
        let refused = Err(ReqError::Refused("n1: HTTP 403".into()));
        assert!(matches!(outcome(refused, true), Outcome::Fail(_)));
        let unsent = Err(ReqError::Unsent("n1: connection refused".into()));
        assert!(matches!(outcome(unsent, true), Outcome::Fail(_)));
        assert!(matches!(outcome(Ok(Value::Int(1)), true), Outcome::Ok(_)));
    }

    #[test]
    fn objects_are_named_by_kind_and_key() {
        assert_eq!(object("r", &Value::Int(3)), "/faultline/r3");
        assert_eq!(object("s", &Value::Int(12)), "/faultline/s12");
    }
}
