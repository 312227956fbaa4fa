//! Turning a request path into a file inside the store, or refusing.
//!
//! The invariant: `serve` never opens a file whose canonical path lies outside
//! the canonical store directory. Two gates keep it:
//!
//! 1. [`segments`] splits the *raw* request path (still percent-encoded) on
//!    `/`, decodes each segment on its own, and rejects any segment that is
//!    empty (`//`, an absolute path smuggled in), `.` or `..` (also when written
//!    `%2e%2e`), or that decodes to something containing `/`, `\` or NUL
//!    (`%2f`, `%5c`, `%00`) or to invalid UTF-8. Such a request is answered 400.
//! 2. [`resolve`] joins the accepted segments under the store, canonicalizes
//!    the result (following every symlink) and checks that it still starts with
//!    the canonical store. A symlink that points out of the store resolves
//!    outside the prefix and is answered 404, exactly like a missing file, so a
//!    client cannot even learn that it exists.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path is malformed or tries to climb out (answer 400).
    BadPath,
    /// Nothing servable there: missing, or outside the store (answer 404).
    NotFound,
}

/// Splits a raw, percent-encoded path (`a/b%20c/d`) into decoded segments.
///
/// A single trailing `/` is allowed and reported as `true` in the second
/// value (directories are addressed with one); every other empty segment is
/// refused.
pub fn segments(raw: &str) -> Result<(Vec<String>, bool), Refusal> {
    let (body, trailing) = match raw.strip_suffix('/') {
        Some(b) => (b, true),
        None => (raw, false),
    };
    if body.is_empty() {
        return Ok((Vec::new(), trailing));
    }
    let mut out = Vec::new();
    for part in body.split('/') {
        let decoded = percent_decode_str(part)
            .decode_utf8()
            .map_err(|_| Refusal::BadPath)?;
        if !segment_ok(&decoded) {
            return Err(Refusal::BadPath);
        }
        out.push(decoded.into_owned());
    }
    Ok((out, trailing))
}

/// Whether one decoded path segment may be used as a file name.
pub fn segment_ok(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// The canonical path of `store/<segments...>`, if it exists and lies inside
/// the canonical store.
pub fn resolve(store: &Path, segments: &[String]) -> Result<PathBuf, Refusal> {
    if !segments.iter().all(|s| segment_ok(s)) {
        return Err(Refusal::BadPath);
    }
    let root = store.canonicalize().map_err(|_| Refusal::NotFound)?;
    let mut p = root.clone();
    p.extend(segments);
    inside(&root, &p)
}

/// The canonical form of `path` if it lies inside the canonical `root`.
pub fn inside(root: &Path, path: &Path) -> Result<PathBuf, Refusal> {
    let real = path.canonicalize().map_err(|_| Refusal::NotFound)?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(Refusal::NotFound)
    }
}

/// A path segment for a link: everything but unreserved characters is
/// percent-encoded, so a name with `/`, `?`, `#` or spaces stays one segment.
pub fn encode_segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_split_and_decode() {
        let (s, t) = segments("refkv-set/2026%20x/nodes/n1/redis.log").unwrap();
        assert_eq!(s, ["refkv-set", "2026 x", "nodes", "n1", "redis.log"]);
        assert!(!t);
        let (s, t) = segments("a/b/").unwrap();
        assert_eq!(s, ["a", "b"]);
        assert!(t);
        assert_eq!(segments("").unwrap(), (vec![], false));
    }

    #[test]
    fn climbing_and_smuggling_are_refused() {
        for raw in [
            "../../etc/passwd",
            "a/../b",
            "a/./b",
            "%2e%2e/%2e%2e/etc/passwd",
            "%2E%2E/x",
            "a/%2e%2e%2f%2e%2e%2fetc/passwd",
            "a/..%2fb",
            "a/..%5cb",
            "/etc/passwd",
            "a//b",
            "a/%00",
            "a/%ff%fe",
        ] {
            assert_eq!(segments(raw), Err(Refusal::BadPath), "{raw}");
        }
    }

    #[test]
    fn symlinks_out_of_the_store_resolve_to_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let outside = dir.path().join("secret");
        std::fs::create_dir_all(store.join("t/r")).unwrap();
        std::fs::write(&outside, "secret").unwrap();
        std::fs::write(store.join("t/r/ok.log"), "fine").unwrap();
        std::os::unix::fs::symlink(&outside, store.join("t/r/escape.log")).unwrap();
        std::os::unix::fs::symlink("ok.log", store.join("t/r/alias.log")).unwrap();
        let seg = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
        assert!(resolve(&store, &seg("t/r/ok.log")).is_ok());
        assert!(resolve(&store, &seg("t/r/alias.log")).is_ok());
        assert_eq!(
            resolve(&store, &seg("t/r/escape.log")),
            Err(Refusal::NotFound)
        );
        assert_eq!(resolve(&store, &seg("t/r/none")), Err(Refusal::NotFound));
        assert_eq!(resolve(&store, &seg("t/../..")), Err(Refusal::BadPath));
    }

    #[test]
    fn link_segments_are_encoded() {
        assert_eq!(encode_segment("a b/c?d#e"), "a%20b%2Fc%3Fd%23e");
        assert_eq!(
            encode_segment("20261122T104206.692Z"),
            "20261122T104206.692Z"
        );
    }
}
