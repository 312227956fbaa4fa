//! Reading JSON Lines on every core: the input is cut into blocks at line
//! boundaries, and the blocks are parsed side by side.
//!
//! Each line of a JSON Lines history is read on its own ([`parse_line`]),
//! so nothing but the line's number and the event's default index (its
//! position, when the line gives none) depends on the lines before it. The
//! reader takes the text a batch at a time — one block of about
//! [`BLOCK`] bytes per core, each ending just after a `\n` (or at the end of
//! the input) — counts each block's lines before handing it out, so every
//! block knows the number of its first line, and parses the blocks of a batch
//! on one thread each. An event without an `index` gets a placeholder
//! ([`UNPLACED`], which no input can give: indices are at most `i64::MAX`),
//! replaced by its position when the blocks are joined in input order.
//!
//! The invariant: **the result is the one reading the lines one after another
//! gives** — the same events, lines and warnings, and on bad input the error
//! of the first bad line (a block's error is only reported once every block
//! before it has been read without one). Memory holds a batch of text at a
//! time, not the file.

use std::io::{BufRead, Read};

use crate::collected::Collected;
use crate::error::HistoryError;
use crate::event::{EventFields, Names};
use crate::jsonl_fast::{self, Scratch};
use crate::jsonl_serde::{json_message, serde_event, Refused};

/// About how many bytes of text one block holds (a longer line makes a
/// longer block).
pub(crate) const BLOCK: usize = 4 << 20;

/// The index an event gets while its position is not known yet.
pub(crate) const UNPLACED: u64 = u64::MAX;

/// One thread's reusable state: the string cache, the fast path's stacks,
/// its block of text and what it read from it. Every buffer is kept from
/// batch to batch: handing multi-megabyte buffers back to the allocator
/// after every block made glibc consolidate its free lists each time (a
/// sixth of the reading time, measured with `perf`).
#[derive(Default)]
struct Worker {
    names: Names,
    scratch: Scratch,
    text: Vec<u8>,
    /// The block's first line.
    first: u64,
    out: Collected,
    /// `Ok(false)` when a cut-off final line ended the history.
    end: Option<Result<bool, HistoryError>>,
}

/// Reads JSON Lines events from `r` into `out`, on up to one thread per core;
/// `file` names the input in messages.
pub(crate) fn read<R: BufRead>(r: R, file: &str, out: &mut Collected) -> Result<(), HistoryError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    read_with(r, file, out, threads, BLOCK)
}

/// [`read`] with `threads` threads and blocks of about `block` bytes.
pub(crate) fn read_with<R: BufRead>(
    mut r: R,
    file: &str,
    out: &mut Collected,
    threads: usize,
    block: usize,
) -> Result<(), HistoryError> {
    let threads = threads.max(1);
    let mut workers: Vec<Worker> = (0..threads).map(|_| Worker::default()).collect();
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1u64;
    let mut eof = false;
    while !eof {
        // A batch: up to one block per thread, each with its first line.
        let mut used = 0;
        while used < threads && !eof {
            let w = &mut workers[used];
            eof = next_block(&mut r, file, &mut carry, &mut w.text, block)?;
            if w.text.is_empty() {
                break;
            }
            w.first = line;
            line += count_lines(&w.text);
            used += 1;
        }
        parse_batch(&mut workers[..used], file);
        for w in &mut workers[..used] {
            let start = out.events.len() as u64;
            for (i, e) in w.out.events.iter_mut().enumerate() {
                if e.index == UNPLACED {
                    e.index = start + i as u64;
                }
            }
            // `append` leaves the worker's buffers' capacity for the next batch.
            out.events.append(&mut w.out.events);
            out.lines.append(&mut w.out.lines);
            out.warnings.append(&mut w.out.warnings);
            if !w.end.take().unwrap_or(Ok(true))? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Fills `text` with the next block: `carry` (the start of a line the last
/// block did not finish) and more input, up to the last `\n` once it holds
/// `block` bytes; true when the input is exhausted (the block then ends
/// where the input does).
fn next_block<R: Read>(
    r: &mut R,
    file: &str,
    carry: &mut Vec<u8>,
    text: &mut Vec<u8>,
    block: usize,
) -> Result<bool, HistoryError> {
    text.clear();
    text.append(carry);
    let mut scanned = 0;
    loop {
        // Below a block, up to a block; past it (a long line), a block more.
        let want = match block.saturating_sub(text.len()) {
            0 => block,
            short => short,
        };
        text.reserve(want.min(BLOCK));
        let n = r
            .by_ref()
            .take(want as u64)
            .read_to_end(text)
            .map_err(|e| HistoryError::io(file, e))?;
        if n == 0 {
            return Ok(true);
        }
        if text.len() < block {
            continue;
        }
        if let Some(nl) = memchr::memrchr(b'\n', &text[scanned..]) {
            let cut = scanned + nl + 1;
            carry.extend_from_slice(&text[cut..]);
            text.truncate(cut);
            return Ok(false);
        }
        // One line longer than a block: keep reading until it ends.
        scanned = text.len();
    }
}

/// How many lines `text` starts (its `\n`s, and a last line without one).
fn count_lines(text: &[u8]) -> u64 {
    let nl = text.iter().filter(|&&b| b == b'\n').count() as u64;
    nl + u64::from(text.last().is_some_and(|&b| b != b'\n'))
}

/// Parses each worker's block, one per thread.
fn parse_batch(workers: &mut [Worker], file: &str) {
    let Some((here, rest)) = workers.split_first_mut() else {
        return;
    };
    if rest.is_empty() {
        parse_block(here, file);
        return;
    }
    std::thread::scope(|s| {
        let helpers: Vec<_> = rest
            .iter_mut()
            .map(|w| s.spawn(move || parse_block(w, file)))
            .collect();
        parse_block(here, file);
        for h in helpers {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// Parses a worker's block; stops at its first error.
fn parse_block(w: &mut Worker, file: &str) {
    let mut line = w.first;
    let mut rest = &w.text[..];
    while !rest.is_empty() {
        let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |nl| nl + 1);
        let (raw, tail) = rest.split_at(len);
        match parse_line(
            raw,
            file,
            line,
            UNPLACED,
            &mut w.out,
            &mut w.names,
            &mut w.scratch,
        ) {
            Ok(true) => {}
            end => {
                w.end = Some(end);
                return;
            }
        }
        rest = tail;
        line += 1;
    }
}

/// Parses one line (with its `\n`, if it has one) into `out`; false when it was
/// a cut-off final line, which ends the history. The fast path
/// ([`jsonl_fast`]) reads the plain lines; serde_json reads the rest and words
/// every error. An event without an `index` gets `position`.
pub(crate) fn parse_line(
    raw: &[u8],
    file: &str,
    line: u64,
    position: u64,
    out: &mut Collected,
    names: &mut Names,
    scratch: &mut Scratch,
) -> Result<bool, HistoryError> {
    let complete = raw.last() == Some(&b'\n');
    let text = trim(raw);
    if text.is_empty() {
        return Ok(true);
    }
    let mut fields = EventFields::default();
    if !jsonl_fast::parse_event(text, &mut fields, names, scratch) {
        fields = EventFields::default();
        match serde_event(text, &mut fields, names) {
            Ok(()) => {}
            Err(Refused::Field(msg)) => return Err(HistoryError::invalid(file, line, msg)),
            Err(Refused::Json(e)) if e.is_eof() && !complete && text.first() == Some(&b'{') => {
                out.warnings.push(format!(
                    "{file}:{line}: skipped a final line cut short (the run was interrupted while writing it)"
                ));
                return Ok(false);
            }
            Err(Refused::Json(e)) => {
                return Err(HistoryError::syntax(file, line, json_message(&e)))
            }
        }
    }
    let e = fields
        .finish(position)
        .map_err(|m| HistoryError::invalid(file, line, m))?;
    out.push(e, line);
    Ok(true)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn read_str(text: &[u8], threads: usize, block: usize) -> (Collected, Option<String>) {
        let mut out = Collected::default();
        let err = read_with(text, "h.jsonl", &mut out, threads, block)
            .err()
            .map(|e| e.to_string());
        (out, err)
    }

    /// Lines good and bad, with and without `index`, blank and cut short.
    fn arb_line() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",1,2]]}",
            "{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"r\",1,[2,3]]]}",
            "{\"index\":7,\"type\":\"ok\",\"process\":1,\"f\":\"w\",\"value\":\"a\\u00e9\"}",
            "{\"index\":9000,\"type\":\"invoke\",\"process\":\"nemesis\",\"f\":\"start\"}",
            "{\"type\":\"ok\",\"value\":1.5}",
            "",
            "   ",
            "{\"type\":\"bogus\"}",
            "{\"type\":\"ok\",\"pro",
            "[1,2]",
        ])
        .prop_map(str::to_owned)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Whatever the blocks and threads, the result is the one-block,
        /// one-thread result: events, lines, warnings and the error.
        #[test]
        fn blocks_read_as_one_pass_does(
            lines in prop::collection::vec(arb_line(), 0..40),
            final_newline in any::<bool>(),
            threads in 1usize..4,
            block in 1usize..200,
        ) {
            let mut text = lines.join("\n");
            if final_newline {
                text.push('\n');
            }
            let (whole, whole_err) = read_str(text.as_bytes(), 1, usize::MAX / 2);
            let (got, err) = read_str(text.as_bytes(), threads, block);
            prop_assert_eq!(&err, &whole_err);
            if whole_err.is_none() {
                prop_assert_eq!(&got.events, &whole.events);
                prop_assert_eq!(&got.lines, &whole.lines);
                prop_assert_eq!(&got.warnings, &whole.warnings);
            }
        }
    }

    #[test]
    fn indices_are_positions_across_blocks() {
        let line = "{\"type\":\"invoke\",\"process\":0,\"f\":\"r\"}\n\n";
        let text = line.repeat(50);
        let (got, err) = read_str(text.as_bytes(), 2, 64);
        assert_eq!(err, None);
        let idx: Vec<u64> = got.events.iter().map(|e| e.index).collect();
        assert_eq!(idx, (0..50).collect::<Vec<u64>>());
        let lines: Vec<u64> = (0..50).map(|i| 2 * i + 1).collect();
        assert_eq!(got.lines, lines);
    }

    #[test]
    fn the_first_bad_line_is_the_error_whichever_block_it_is_in() {
        let good = "{\"type\":\"invoke\",\"process\":0,\"f\":\"r\"}\n";
        let text = format!(
            "{}{{\"type\":\"done\"}}\n{}{{\"type\":\"also bad\"}}\n",
            good.repeat(30),
            good.repeat(30)
        );
        let (_, err) = read_str(text.as_bytes(), 3, 100);
        assert_eq!(
            err.as_deref(),
            Some("h.jsonl:31: unknown type \"done\" (expected invoke, ok, fail or info)")
        );
    }
}
