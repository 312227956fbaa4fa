//! # faultline-powerfs: a disk that can lose power
//!
//! A real disk keeps only what was made durable: data a program wrote but
//! did not `fsync` sits in the page cache and is gone when the power goes,
//! and so are directory changes (create, rename, unlink) the filesystem's
//! journal had not committed. Databases promise durability by calling
//! `fsync` at the right moments; a power loss is how one finds out whether
//! they do. powerfs is a FUSE filesystem that makes that loss happen on
//! demand, the way LazyFS does for Jepsen:
//!
//! - it mounts a view of a *backing* directory, which always holds exactly
//!   what a disk would still have after a power loss;
//! - writes, truncates and size changes stay in memory, per file, in dirty
//!   pages ([`pages`]) until that file is fsynced;
//! - directory operations are applied at once but journaled with enough to
//!   undo them ([`journal`]); any fsync commits them (ext4-like ordering);
//! - [`PowerFs::power_loss`] (or `power-loss` on the [`control`] socket)
//!   drops the dirty pages and undoes the journal.
//!
//! Typical use by a nemesis: SIGKILL the node's processes, `power-loss`,
//! restart the node on the same mount. See docs/power-loss.md.
//!
//! The modules, from the bottom up: [`pages`] (one file's dirty bytes),
//! [`journal`] (undoable directory operations), [`volume`] (inode numbers,
//! backing paths, the two kinds of unsynced state together), [`namespace`]
//! (create, remove, rename on the volume), [`attr`] (an inode's attributes as the kernel
//! wants them), [`fuse`] (the kernel's requests onto the volume), [`mount`] (the [`PowerFs`] handle),
//! [`control`] (the line protocol on the control socket), [`daemon`] (the
//! `faultline _powerfs` process), [`stale`] (finding and removing mounts
//! by their fsname) and [`error`].

pub mod attr;
pub mod control;
pub mod daemon;
pub mod error;
pub mod fuse;
pub mod journal;
pub mod mount;
pub mod namespace;
pub mod pages;
pub mod stale;
pub mod volume;

pub use control::{request, Command};
pub use error::Error;
pub use mount::PowerFs;
pub use stale::{available, cleanup_all, force_unmount, mounts, FSNAME};
pub use volume::Status;
