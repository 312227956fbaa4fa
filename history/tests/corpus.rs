//! Every history in the shared corpus (Porcupine, Knossos, Elle) parses, with the
//! number of events and invocations counted independently of this crate (by a
//! regular expression over the text: `:type :` in EDN, `jepsen.util - ` lines in
//! logs; see `corpus-counts.txt`).

use std::path::PathBuf;

use faultline_history::{read_path, EventType};

/// The corpus lives outside the repository; `.cargo/config.toml` points
/// `FAULTLINE_CORPUS` at `../shared/corpus` unless the environment already says.
fn corpus_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("FAULTLINE_CORPUS")
            .expect("FAULTLINE_CORPUS is set by .cargo/config.toml"),
    )
}

#[test]
fn every_corpus_file_parses_with_its_known_op_count() {
    let dir = corpus_dir();
    let table = include_str!("corpus-counts.txt");
    let mut checked = 0;
    for row in table.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = row.split_whitespace();
        let (path, events, invokes) = (
            parts.next().unwrap(),
            parts.next().unwrap().parse::<usize>().unwrap(),
            parts.next().unwrap().parse::<usize>().unwrap(),
        );
        let loaded = read_path(&dir.join(path), None).unwrap_or_else(|e| panic!("{e}"));
        let h = &loaded.history;
        assert_eq!(h.len(), events, "{path}: events");
        let n = h
            .events()
            .iter()
            .filter(|e| e.kind == EventType::Invoke)
            .count();
        assert_eq!(n, invokes, "{path}: invocations");
        assert!(loaded.warnings.is_empty(), "{path}: {:?}", loaded.warnings);
        checked += 1;
    }
    assert_eq!(checked, 234, "every data file in the corpus is listed");
}

#[test]
fn corpus_table_lists_every_data_file() {
    let dir = corpus_dir();
    let table = include_str!("corpus-counts.txt");
    let mut stack = vec![dir.clone()];
    let mut found = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !matches!(p.extension().and_then(|e| e.to_str()), Some("md" | "html")) {
                let rel = p.strip_prefix(&dir).unwrap().to_str().unwrap().to_owned();
                assert!(
                    table
                        .lines()
                        .any(|l| l.split_whitespace().next() == Some(&rel)),
                    "{rel} is missing from corpus-counts.txt"
                );
                found += 1;
            }
        }
    }
    assert_eq!(found, 234);
}
