//! Signed HTTP requests to one Garage node's S3 or K2V endpoint, and what
//! their failures mean for an operation's outcome.
//!
//! The invariant: an error says whether the request surely did not happen.
//! A request that could not connect never reached the node ([`ReqError::Unsent`]);
//! an answer with a 4xx status was refused before anything was stored
//! (bad signature, missing key: [`ReqError::Refused`]); a timeout, a reset
//! connection or a 5xx (Garage's "could not reach quorum" after some
//! replicas may have stored it) leaves the outcome unknown
//! ([`ReqError::Unknown`]). The clients turn these into `fail` or `info`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sigv4::{self, Credentials};

/// The S3 API's port on every node.
pub const S3_PORT: u16 = 3900;
/// The RPC port between nodes.
pub const RPC_PORT: u16 = 3901;
/// The admin API's port.
pub const ADMIN_PORT: u16 = 3903;
/// The K2V API's port.
pub const K2V_PORT: u16 = 3904;

/// How a request went wrong.
#[derive(Debug)]
pub enum ReqError {
    /// Never reached the node.
    Unsent(String),
    /// Answered with a client error (4xx): nothing was stored.
    Refused(String),
    /// Sent; whether it took effect is unknown.
    Unknown(String),
}

impl ReqError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            ReqError::Unsent(m) | ReqError::Refused(m) | ReqError::Unknown(m) => m,
        }
    }
}

/// A node's answer: status, causality token (K2V), body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `X-Garage-Causality-Token`, if any.
    pub token: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// One node's endpoints, with the key every request is signed with.
#[derive(Clone)]
pub struct Api {
    /// The node's name.
    pub node: String,
    /// Its address.
    pub addr: String,
    creds: Credentials,
    http: reqwest::Client,
}

impl Api {
    /// Requests to `node` at `addr`, signed with `creds`.
    pub fn new(node: &str, addr: &str, creds: Credentials) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        Api {
            node: node.to_owned(),
            addr: addr.to_owned(),
            creds,
            http,
        }
    }

    /// A signed request to the S3 (`service` "s3") or K2V ("k2v") endpoint:
    /// `path` unencoded (each segment encoded here, `/` kept).
    pub async fn call(
        &self,
        service: &str,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Reply, ReqError> {
        let port = if service == "k2v" { K2V_PORT } else { S3_PORT };
        let host = format!("{}:{port}", self.addr);
        let path = sigv4::uri_encode(path, false);
        let q = sigv4::canonical_query(query);
        let url = if q.is_empty() {
            format!("http://{host}{path}")
        } else {
            format!("http://{host}{path}?{q}")
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signed = sigv4::sign(
            &self.creds,
            service,
            &sigv4::Request {
                method,
                path: &path,
                query,
                host: &host,
                headers,
                body: &body,
            },
            &sigv4::amz_date(now),
        );
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ReqError::Unsent(format!("{}: {e}", self.node)))?;
        let mut rb = self.http.request(m, &url).body(body);
        for (k, v) in &signed {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if service == "k2v" {
            rb = rb.header("accept", "application/json");
        }
        let name = &self.node;
        let resp = rb.send().await.map_err(|e| {
            if e.is_connect() {
                ReqError::Unsent(format!("{name}: {e}"))
            } else {
                ReqError::Unknown(format!("{name}: {e}"))
            }
        })?;
        let status = resp.status().as_u16();
        let token = resp
            .headers()
            .get("x-garage-causality-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .bytes()
            .await
            .map_err(|e| ReqError::Unknown(format!("{name}: reading the reply: {e}")))?
            .to_vec();
        Ok(Reply {
            status,
            token,
            body,
        })
    }
}

/// What an answer that is not 2xx (nor an expected 404) means: 4xx refused,
/// anything else unknown; the message names the node and Garage's words.
pub fn status_error(node: &str, r: &Reply) -> ReqError {
    let text = String::from_utf8_lossy(&r.body);
    let said = xml_field(&text, "Message")
        .or_else(|| xml_field(&text, "Code"))
        .unwrap_or_else(|| text.chars().take(160).collect());
    let msg = format!("{node}: HTTP {}: {}", r.status, said.trim());
    if (400..500).contains(&r.status) {
        ReqError::Refused(msg)
    } else {
        ReqError::Unknown(msg)
    }
}

/// XML's five escapes undone.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every `<tag>text</tag>` in `xml`, in order, unescaped.
pub fn xml_fields(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else { break };
        out.push(unescape(&rest[..j]));
        rest = &rest[j + close.len()..];
    }
    out
}

/// The first `<tag>text</tag>` in `xml`.
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    xml_fields(xml, tag).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_replies_give_their_keys_and_token() {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>\
                   <Contents><Key>s1</Key><Size>1</Size></Contents><Contents><Key>s12</Key></Contents>\
                   <NextContinuationToken>a&amp;b=</NextContinuationToken></ListBucketResult>";
        assert_eq!(xml_fields(xml, "Key"), vec!["s1", "s12"]);
        assert_eq!(xml_field(xml, "NextContinuationToken").as_deref(), Some("a&b="));
        assert_eq!(xml_field(xml, "IsTruncated").as_deref(), Some("true"));
        assert_eq!(xml_fields("<Key>unclosed", "Key"), Vec::<String>::new());
    }

    #[test]
    fn client_errors_are_refusals_and_server_errors_unknown() {
        let r = |status| Reply {
            status,
            token: None,
            body: b"<Error><Code>X</Code><Message>Could not reach quorum</Message></Error>".to_vec(),
        };
        assert!(matches!(status_error("n1", &r(403)), ReqError::Refused(_)));
        let e = status_error("n1", &r(500));
        assert!(matches!(e, ReqError::Unknown(_)));
        assert_eq!(e.message(), "n1: HTTP 500: Could not reach quorum");
    }
}
