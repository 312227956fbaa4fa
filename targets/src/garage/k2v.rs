//! The K2V register on Garage: concurrent writes kept as siblings under
//! causality tokens (dotted version vectors).
//!
//! Garage's K2V API stores items under a partition key and a sort key. A
//! read (`GET /bucket/pk?sort_key=sk`, `Accept: application/json`) returns
//! *every* concurrent value as a JSON list of base64 strings, with an
//! `X-Garage-Causality-Token` header naming the versions seen; a write
//! (`PUT` with that token) replaces exactly the versions the token covers
//! and leaves any other concurrent value as a sibling. A write without a
//! token replaces nothing: it becomes one more sibling.
//!
//! The history records siblings exactly as refkv's version-vector mode
//! does, so the `conflicts` checker judges both alike: a read completes as
//! `[k, [v1 v2 ...]]` — every sibling, sorted and deduplicated, always a
//! list — or `[k, nil]` when the item does not exist; a write is `[k, v]`.
//! The client keeps the token of its last read of each key and sends it
//! with its next writes of that key (refkv's contexts), so a write
//! supersedes what its session read and nothing else.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use faultline_history::Value;

use super::api::{status_error, Api, ReqError};
use super::s3::BUCKET;

/// The partition key of the register's items.
const PARTITION: &str = "r";

/// The causality token of the last read of each key, per client.
pub type Tokens = HashMap<String, String>;

/// The siblings of a read reply: each value (a deleted one is nil),
/// sorted by their text and deduplicated — refkv's order.
pub fn siblings(body: &[u8]) -> Result<Value, String> {
    let items: Vec<Option<String>> =
        serde_json::from_slice(body).map_err(|e| format!("bad K2V reply: {e}"))?;
    let mut vals: Vec<Value> = items
        .into_iter()
        .map(|item| match item {
            None => Value::Null,
            Some(b) => {
                let bytes = B64.decode(b.as_bytes()).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                text.parse::<i64>()
                    .map(Value::Int)
                    .unwrap_or_else(|_| Value::str(&text))
            }
        })
        .collect();
    vals.sort_by_key(|v| v.to_string());
    vals.dedup();
    Ok(Value::list(vals))
}

fn query(k: &Value) -> Vec<(String, String)> {
    vec![("sort_key".to_string(), k.to_string())]
}

async fn read(api: &Api, k: &Value, tokens: &mut Tokens) -> Result<Value, ReqError> {
    let path = format!("/{BUCKET}/{PARTITION}");
    let r = api
        .call("k2v", "GET", &path, &query(k), &[], Vec::new())
        .await?;
    match r.status {
        200..=299 => {
            let sibs =
                siblings(&r.body).map_err(|e| ReqError::Unknown(format!("{}: {e}", api.node)))?;
            if let Some(t) = r.token {
                tokens.insert(k.to_string(), t);
            }
            Ok(sibs)
        }
        404 => {
            tokens.remove(&k.to_string());
            Ok(Value::Null)
        }
        _ => Err(status_error(&api.node, &r)),
    }
}

async fn write(api: &Api, k: &Value, x: &Value, tokens: &Tokens) -> Result<(), ReqError> {
    let path = format!("/{BUCKET}/{PARTITION}");
    let headers: Vec<(String, String)> = tokens
        .get(&k.to_string())
        .map(|t| ("x-garage-causality-token".to_string(), t.clone()))
        .into_iter()
        .collect();
    let r = api
        .call(
            "k2v",
            "PUT",
            &path,
            &query(k),
            &headers,
            x.to_string().into_bytes(),
        )
        .await?;
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(status_error(&api.node, &r))
    }
}

/// One register operation through K2V: its value, or how it went wrong.
pub async fn perform(
    api: &Api,
    f: &str,
    v: &Value,
    tokens: &mut Tokens,
) -> Result<Value, ReqError> {
    match (f, v.as_tuple()) {
        ("read", Some((k, _))) => read(api, k, tokens)
            .await
            .map(|s| Value::list(vec![k.clone(), s])),
        ("write", Some((k, x))) => write(api, k, x, tokens).await.map(|()| v.clone()),
        _ => Err(ReqError::Refused(format!(
            "garage's K2V client does not serve {f} {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_are_sorted_deduplicated_and_always_a_list() {
        let body = format!(
            "[\"{}\", \"{}\", null, \"{}\"]",
            B64.encode("12"),
            B64.encode("3"),
            B64.encode("3")
        );
        let v = siblings(body.as_bytes()).unwrap();
        assert_eq!(
            v,
            Value::list(vec![Value::Int(12), Value::Int(3), Value::Null])
        );
        let one = siblings(format!("[\"{}\"]", B64.encode("7")).as_bytes()).unwrap();
        assert_eq!(one, Value::list(vec![Value::Int(7)]));
        assert!(siblings(b"not json").is_err());
    }
}
