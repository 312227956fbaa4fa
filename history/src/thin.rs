//! A boxed slice one pointer wide: the length lives in the allocation, in
//! front of the elements.
//!
//! A history in memory is mostly lists: every micro-operation `[f k v]`, every
//! transaction's list of them, every read's elements. A `Box<[T]>` is two
//! words (pointer and length), which makes a [`Value`](crate::Value) holding
//! one 24 bytes; `ThinSlice` makes it 16. Its header is one word — where a
//! growable thin vector keeps a capacity too — so a three-part micro-operation
//! (8 + 3 × 16 bytes) fits the allocator's 64-byte size class instead of the
//! 80-byte one.
//!
//! The invariant the `unsafe` code below keeps: `ptr` points either at the
//! static empty header (length 0, never written, never freed) or at an
//! allocation made by [`ThinSlice::layout`] for exactly the length its header
//! holds, whose elements are all initialised. The length never changes after
//! construction, so the layout freed is always the layout allocated.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

#[repr(C, align(8))]
struct Header {
    len: usize,
}

/// The header every empty slice shares.
static EMPTY: Header = Header { len: 0 };

/// Where the elements start: right after the header.
const OFFSET: usize = size_of::<Header>();

/// A boxed slice whose length is stored in its allocation (see the module
/// doc). Elements must be aligned to at most 8 bytes and not be zero-sized.
pub struct ThinSlice<T> {
    ptr: NonNull<Header>,
    owns: PhantomData<T>,
}

// SAFETY: a `ThinSlice<T>` owns its elements as a `Box<[T]>` does.
unsafe impl<T: Send> Send for ThinSlice<T> {}
// SAFETY: as above; shared access only hands out `&[T]`.
unsafe impl<T: Sync> Sync for ThinSlice<T> {}

impl<T> ThinSlice<T> {
    const FITS: () = assert!(
        align_of::<T>() <= align_of::<Header>() && size_of::<T>() > 0,
        "ThinSlice elements must be aligned to at most 8 bytes and not zero-sized"
    );

    /// An empty slice (no allocation).
    pub fn new() -> ThinSlice<T> {
        let () = Self::FITS;
        ThinSlice {
            ptr: NonNull::from(&EMPTY),
            owns: PhantomData,
        }
    }

    fn layout(len: usize) -> Layout {
        let bytes = size_of::<T>()
            .checked_mul(len)
            .and_then(|b| b.checked_add(OFFSET))
            .expect("slice size overflows");
        Layout::from_size_align(bytes, align_of::<Header>()).expect("slice size overflows")
    }

    /// Moves `v[start..]` into a new slice, leaving `v[..start]` in `v`.
    pub fn from_tail(v: &mut Vec<T>, start: usize) -> ThinSlice<T> {
        let len = v.len().checked_sub(start).expect("start within the vector");
        if len == 0 {
            return ThinSlice::new();
        }
        let () = Self::FITS;
        let layout = Self::layout(len);
        // SAFETY: the layout is non-zero-sized (it holds the header).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            handle_alloc_error(layout)
        };
        // SAFETY: `ptr` is a fresh allocation of `layout`: the header, then
        // room for `len` elements at `OFFSET` (aligned: `OFFSET` is a
        // multiple of the elements' alignment). The elements `v[start..]`
        // are moved bit for bit, and `v` forgets them before anything else
        // can observe it, so each is owned exactly once.
        unsafe {
            ptr.as_ptr().write(Header { len });
            let data = raw.add(OFFSET).cast::<T>();
            ptr::copy_nonoverlapping(v.as_ptr().add(start), data, len);
            v.set_len(start);
        }
        ThinSlice {
            ptr,
            owns: PhantomData,
        }
    }

    /// Moves every element of `v` into a new slice.
    pub fn from_vec(mut v: Vec<T>) -> ThinSlice<T> {
        ThinSlice::from_tail(&mut v, 0)
    }

    /// The elements, as a vector.
    pub fn into_vec(mut self) -> Vec<T> {
        let len = self.len();
        let mut v = Vec::with_capacity(len);
        if len > 0 {
            // SAFETY: the elements are moved out bit for bit into `v`'s
            // spare capacity; then this slice's allocation is freed without
            // dropping them, and `self` is made empty so its own drop does
            // nothing.
            unsafe {
                ptr::copy_nonoverlapping(self.data(), v.as_mut_ptr(), len);
                v.set_len(len);
                dealloc(self.ptr.as_ptr().cast(), Self::layout(len));
            }
            self.ptr = NonNull::from(&EMPTY);
        }
        v
    }

    fn data(&self) -> *mut T {
        // SAFETY: `OFFSET` is within (or one past the end of) every
        // allocation, and of the static header.
        unsafe { self.ptr.as_ptr().cast::<u8>().add(OFFSET).cast::<T>() }
    }

    fn len_of(&self) -> usize {
        // SAFETY: `ptr` always points at an initialised header.
        unsafe { (*self.ptr.as_ptr()).len }
    }
}

impl<T> Drop for ThinSlice<T> {
    fn drop(&mut self) {
        let len = self.len_of();
        if len == 0 {
            return;
        }
        // SAFETY: a non-empty slice owns its allocation, made with
        // `layout(len)`, and its `len` initialised elements.
        unsafe {
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.data(), len));
            dealloc(self.ptr.as_ptr().cast(), Self::layout(len));
        }
    }
}

impl<T> Deref for ThinSlice<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        let len = self.len_of();
        if len == 0 {
            return &[];
        }
        // SAFETY: `len` initialised elements start at `data()`, owned by self.
        unsafe { std::slice::from_raw_parts(self.data(), len) }
    }
}

impl<T> DerefMut for ThinSlice<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        let len = self.len_of();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in `deref`; `&mut self` makes the access unique (the
        // static empty header is never reached here).
        unsafe { std::slice::from_raw_parts_mut(self.data(), len) }
    }
}

impl<T> Default for ThinSlice<T> {
    fn default() -> ThinSlice<T> {
        ThinSlice::new()
    }
}

impl<T: Clone> Clone for ThinSlice<T> {
    fn clone(&self) -> ThinSlice<T> {
        ThinSlice::from_vec(self.to_vec())
    }
}

impl<T> From<Vec<T>> for ThinSlice<T> {
    fn from(v: Vec<T>) -> ThinSlice<T> {
        ThinSlice::from_vec(v)
    }
}

impl<T> FromIterator<T> for ThinSlice<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> ThinSlice<T> {
        ThinSlice::from_vec(it.into_iter().collect())
    }
}

impl<'a, T> IntoIterator for &'a ThinSlice<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for ThinSlice<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for ThinSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: PartialEq> PartialEq for ThinSlice<T> {
    fn eq(&self, other: &ThinSlice<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for ThinSlice<T> {}

impl<T: PartialOrd> PartialOrd for ThinSlice<T> {
    fn partial_cmp(&self, other: &ThinSlice<T>) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Ord> Ord for ThinSlice<T> {
    fn cmp(&self, other: &ThinSlice<T>) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: Hash> Hash for ThinSlice<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_pointer_wide() {
        assert_eq!(size_of::<ThinSlice<u64>>(), size_of::<usize>());
        assert_eq!(size_of::<Option<ThinSlice<u64>>>(), size_of::<usize>());
    }

    proptest! {
        /// A slice holds what it was made from, moved in and out without
        /// losing, copying or dropping twice any element (the `Rc` counts
        /// tell), whether built from a whole vector or a vector's tail.
        #[test]
        fn holds_each_element_once(items in prop::collection::vec(any::<u32>(), 0..40), cut in any::<prop::sample::Index>()) {
            let tracked: Vec<Rc<u32>> = items.iter().map(|&i| Rc::new(i)).collect();
            let mut v: Vec<Rc<u32>> = tracked.clone();
            let start = cut.index(v.len() + 1);
            let tail = ThinSlice::from_tail(&mut v, start);
            prop_assert_eq!(v.len(), start);
            prop_assert_eq!(&*tail, &tracked[start..]);
            let copy = tail.clone();
            prop_assert_eq!(&copy, &tail);
            prop_assert!(tracked.iter().skip(start).all(|r| Rc::strong_count(r) == 3));
            drop(copy);
            let back = tail.into_vec();
            prop_assert_eq!(&back[..], &tracked[start..]);
            let mut whole = ThinSlice::from_vec(back);
            whole.reverse();
            prop_assert!(whole.iter().rev().eq(tracked[start..].iter()));
            drop(whole);
            drop(v);
            prop_assert!(tracked.iter().all(|r| Rc::strong_count(r) == 1));
        }
    }

    #[test]
    fn empty_slices_share_no_allocation_and_compare_as_slices() {
        let a: ThinSlice<u64> = ThinSlice::new();
        let b: ThinSlice<u64> = Vec::new().into();
        assert_eq!(a, b);
        assert!(a.is_empty());
        let c: ThinSlice<u64> = vec![1, 2].into();
        let d: ThinSlice<u64> = vec![1, 3].into();
        assert!(c < d && b < c);
        assert_eq!(c.into_iter().collect::<Vec<_>>(), [1, 2]);
    }
}
