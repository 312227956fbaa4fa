//! AWS Signature Version 4, by hand: how Garage's S3 and K2V APIs know who
//! is asking.
//!
//! Every request carries `x-amz-date`, `x-amz-content-sha256` (the SHA-256
//! of its body) and an `Authorization` header holding an HMAC chain: the
//! secret key signs the day, the day's key signs the region, then the
//! service (`s3` or `k2v`), then `aws4_request`; that last key signs a
//! digest of the *canonical request* — method, path, sorted query, the
//! signed headers as `name:value` lines, and the body's hash. Garage
//! recomputes the same string from what it received, so the invariant this
//! module keeps is that the canonical request is built from exactly the
//! bytes that go on the wire: the same path encoding (RFC 3986 unreserved
//! characters kept, everything else `%XX`), the same `Host` (`ip:port`),
//! the same header values. A signature is a few hashes: lighter than an S3
//! SDK, and the only dependency is `hmac`/`sha2`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Who signs, and where: an access key, its secret and the S3 region.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The access key id (`GK...`).
    pub access_key: String,
    /// Its secret.
    pub secret_key: String,
    /// The `s3_region` of the cluster's configuration.
    pub region: String,
}

/// What is signed of one request.
pub struct Request<'a> {
    /// `GET`, `PUT`...
    pub method: &'a str,
    /// The path as sent (already encoded with [`uri_encode`]).
    pub path: &'a str,
    /// Query parameters, unencoded.
    pub query: &'a [(String, String)],
    /// The `Host` header: `ip:port`.
    pub host: &'a str,
    /// Extra headers to sign (lower-case names), e.g. the causality token.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// Percent-encodes `s` the way SigV4 (and Garage) expect: unreserved
/// characters stay, `/` stays unless `slash`, everything else is `%XX`.
pub fn uri_encode(s: &str, slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'~' | b'.' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The query string as sent and as signed: encoded pairs, sorted.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut items: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true)))
        .collect();
    items.sort();
    items.join("&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for `secs` seconds since the Unix epoch (UTC).
pub fn amz_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The headers to send with `req` at `date` (`YYYYMMDDTHHMMSSZ`) for
/// `service`: the request's own extra headers, `x-amz-date`,
/// `x-amz-content-sha256` and `authorization` (`Host` is the client's).
pub fn sign(
    creds: &Credentials,
    service: &str,
    req: &Request<'_>,
    date: &str,
) -> Vec<(String, String)> {
    let payload = sha256_hex(req.body);
    let mut headers: Vec<(String, String)> = req.headers.to_vec();
    headers.push(("host".into(), req.host.to_owned()));
    headers.push(("x-amz-content-sha256".into(), payload.clone()));
    headers.push(("x-amz-date".into(), date.to_owned()));
    headers.sort();
    let canonical_headers: Vec<String> = headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("{k}:{v}")
        })
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = [
        req.method,
        req.path,
        &canonical_query(req.query),
        &canonical_headers.join("\n"),
        "",
        &signed,
        &payload,
    ]
    .join("\n");
    let day = date.get(..8).unwrap_or(date);
    let scope = format!("{day}/{}/{service}/aws4_request", creds.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac(
        format!("AWS4{}", creds.secret_key).as_bytes(),
        day.as_bytes(),
    );
    for part in [creds.region.as_str(), service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    let mut out: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key
        ),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own example: "GET Object" in the SigV4 header-based
    /// authentication documentation for S3.
    #[test]
    fn the_aws_get_object_example_signs_as_documented() {
        let creds = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            host: "examplebucket.s3.amazonaws.com",
            headers: &[("range".into(), "bytes=0-9".into())],
            body: b"",
        };
        let h = sign(&creds, "s3", &req, "20130524T000000Z");
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(1_709_210_096), "20240229T123456Z");
    }

    #[test]
    fn encoding_keeps_unreserved_characters_and_sorts_the_query() {
        assert_eq!(uri_encode("a b/c+~", false), "a%20b/c%2B~");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
        let q = [
            ("prefix".to_string(), "s".to_string()),
            ("list-type".to_string(), "2".to_string()),
        ];
        assert_eq!(canonical_query(&q), "list-type=2&prefix=s");
    }
}
