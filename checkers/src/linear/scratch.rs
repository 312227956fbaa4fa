//! The buffers a search works in, reused from one key to the next and from one
//! check to the next.
//!
//! A search needs a dozen arrays sized by its key's operations (the event list,
//! the bitsets, the backtracking stack) and three hash tables (interned states,
//! memoised steps, Lowe's cache). Allocated afresh for every key, large tables
//! come straight from the operating system and go back to it when the key is
//! done, so every key pays for faulting the same pages in again: on one thread,
//! glibc's main heap trims its top on every large free, and a 50-key history
//! spent most of its time in the kernel (issue 22: 1.3M minor faults and 2.4 s of
//! system time for ten checks). Here each worker takes one `Scratch` from the
//! checker's [`Pool`] for all the keys it searches and gives it back; a search
//! only clears what it uses, which keeps the capacity.
//!
//! Invariant: a `Scratch` carries no meaning from one search to the next — every
//! buffer is cleared (or overwritten in full) before a search reads it; only
//! capacity survives. A scratch that grew past [`KEEP_BYTES`] is dropped
//! instead of kept, so one huge key does not pin its memory for the checker's
//! lifetime.

use std::sync::Mutex;

use rustc_hash::FxHashMap;

use super::cache::Cache;

/// Scratch buffers larger than this go back to the allocator after a check.
pub(crate) const KEEP_BYTES: usize = 256 << 20;

/// One linearized operation on the backtracking stack.
pub(crate) struct Frame {
    pub op: u32,
    pub prev_state: u32,
    pub phase: u8,
}

/// Every buffer of one search; `S` is the model's state.
pub(crate) struct Scratch<S> {
    /// (position, is a return, op) of every call and return entry.
    pub events: Vec<(u32, bool, u32)>,
    pub next: Vec<u32>,
    pub prev: Vec<u32>,
    pub entry_op: Vec<u32>,
    pub entry_ret: Vec<bool>,
    pub call_entry: Vec<u32>,
    pub ret_entry: Vec<u32>,
    pub states: Vec<S>,
    pub state_ids: FxHashMap<S, u32>,
    pub steps: FxHashMap<u64, u32>,
    pub zobrist: Vec<u64>,
    pub class: Vec<u8>,
    pub twin_before: Vec<u32>,
    pub used: Vec<bool>,
    pub bits: Vec<u64>,
    /// The configuration as the cache stores it (see `cache`).
    pub window: Vec<u64>,
    pub info: Vec<u32>,
    pub frames: Vec<Frame>,
    pub cache: Cache,
}

impl<S> Default for Scratch<S> {
    fn default() -> Self {
        Scratch {
            events: Vec::new(),
            next: Vec::new(),
            prev: Vec::new(),
            entry_op: Vec::new(),
            entry_ret: Vec::new(),
            call_entry: Vec::new(),
            ret_entry: Vec::new(),
            states: Vec::new(),
            state_ids: FxHashMap::default(),
            steps: FxHashMap::default(),
            zobrist: Vec::new(),
            class: Vec::new(),
            twin_before: Vec::new(),
            used: Vec::new(),
            bits: Vec::new(),
            window: Vec::new(),
            info: Vec::new(),
            frames: Vec::new(),
            cache: Cache::default(),
        }
    }
}

impl<S> Scratch<S> {
    /// Approximate bytes held (capacity, not use).
    pub fn bytes(&self) -> usize {
        let v4 = self.next.capacity()
            + self.prev.capacity()
            + self.entry_op.capacity()
            + self.call_entry.capacity()
            + self.ret_entry.capacity()
            + self.twin_before.capacity();
        self.events.capacity() * 12
            + v4 * 4
            + self.entry_ret.capacity()
            + self.used.capacity()
            + self.class.capacity()
            + (self.zobrist.capacity() + self.bits.capacity() + self.window.capacity()) * 8
            + self.info.capacity() * 4
            + self.frames.capacity() * 12
            + self.states.capacity() * std::mem::size_of::<S>()
            + self.state_ids.capacity() * (std::mem::size_of::<S>() + 5)
            + self.steps.capacity() * 17
            + self.cache.bytes()
    }
}

/// Scratch buffers waiting for the next search.
pub(crate) struct Pool<S> {
    free: Mutex<Vec<Scratch<S>>>,
}

impl<S> Default for Pool<S> {
    fn default() -> Self {
        Pool {
            free: Mutex::new(Vec::new()),
        }
    }
}

impl<S> Pool<S> {
    /// A scratch to search in: a used one if there is one.
    pub fn take(&self) -> Scratch<S> {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Hands `s` back for the next search (dropped if it grew too large).
    pub fn give(&self, s: Scratch<S>) {
        if s.bytes() <= KEEP_BYTES {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).push(s);
        }
    }
}

/// `v` cleared and filled with `len` copies of `x`, keeping its capacity.
pub(crate) fn refill<T: Clone>(v: &mut Vec<T>, len: usize, x: T) {
    v.clear();
    v.resize(len, x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_given_back_is_taken_again_with_its_capacity() {
        let pool: Pool<u8> = Pool::default();
        let mut s = pool.take();
        refill(&mut s.next, 1000, 7);
        pool.give(s);
        let mut s = pool.take();
        assert!(s.next.capacity() >= 1000);
        refill(&mut s.next, 3, 1);
        assert_eq!(s.next, vec![1, 1, 1], "nothing survives but capacity");
        let mut big = Scratch::<u8>::default();
        big.zobrist.reserve(KEEP_BYTES / 8 + 1);
        pool.give(big);
        pool.give(s);
        assert_eq!(
            pool.free.lock().unwrap().len(),
            1,
            "the oversized one is dropped"
        );
    }
}
