//! Property tests: random writes, truncates and fsyncs against a model in
//! which a power loss leaves exactly the last-synced content.
//!
//! `dirty_pages_match_the_model` runs the page logic alone over an
//! in-memory backing (many cases, no FUSE); `mount_matches_the_model` runs
//! the same sequences through a real mount (needs root and FUSE).

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use faultline_powerfs::pages::DirtyFile;
use faultline_powerfs::PowerFs;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Op {
    Write(u64, Vec<u8>),
    Truncate(u64),
    Fsync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20_000, proptest::collection::vec(any::<u8>(), 1..6000)).prop_map(|(o, d)| Op::Write(o, d)),
        1 => (0u64..20_000).prop_map(Op::Truncate),
        1 => Just(Op::Fsync),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..25)
}

/// The model: the content now and the content at the last fsync.
#[derive(Default)]
struct Model {
    now: Vec<u8>,
    synced: Vec<u8>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write(o, d) => {
                let end = *o as usize + d.len();
                if self.now.len() < end {
                    self.now.resize(end, 0);
                }
                self.now[*o as usize..end].copy_from_slice(d);
            }
            Op::Truncate(n) => self.now.resize(*n as usize, 0),
            Op::Fsync => self.synced = self.now.clone(),
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 300, ..Config::default() })]
    #[test]
    fn dirty_pages_match_the_model(initial in proptest::collection::vec(any::<u8>(), 0..9000), ops in ops()) {
        let mut disk = initial.clone();
        let mut f = DirtyFile::new(disk.len() as u64);
        let mut m = Model { now: initial.clone(), synced: initial };
        for op in &ops {
            match op {
                Op::Write(o, d) => f.write(&disk, *o, d).unwrap(),
                Op::Truncate(n) => f.truncate(&disk, *n).unwrap(),
                Op::Fsync => f.sync(&mut disk).unwrap(),
            }
            m.apply(op);
            prop_assert_eq!(f.size(), m.now.len() as u64);
        }
        prop_assert_eq!(&f.read(&disk, 0, 1 << 20).unwrap(), &m.now);
        f.drop_unsynced();
        prop_assert_eq!(&f.read(&disk, 0, 1 << 20).unwrap(), &m.synced);
        prop_assert_eq!(&disk, &m.synced);
    }
}

#[test]
fn mount_matches_the_model() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || faultline_powerfs::available().is_err() {
        eprintln!("skipped: needs root, /dev/fuse and fusermount3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("b"), dir.path().join("m"));
    fs::create_dir(&backing).unwrap();
    fs::create_dir(&mnt).unwrap();
    let pfs = PowerFs::mount(&backing, &mnt).unwrap();
    let case = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    runner
        .run(&ops(), |ops| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = mnt.join(format!("f{case}"));
            let f = OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            f.sync_all().unwrap();
            let mut m = Model::default();
            for op in &ops {
                match op {
                    Op::Write(o, d) => f.write_all_at(d, *o).unwrap(),
                    Op::Truncate(n) => f.set_len(*n).unwrap(),
                    Op::Fsync => f.sync_data().unwrap(),
                }
                m.apply(op);
            }
            drop(f);
            prop_assert_eq!(&fs::read(&path).unwrap(), &m.now);
            pfs.power_loss().unwrap();
            prop_assert_eq!(&fs::read(&path).unwrap(), &m.synced);
            prop_assert_eq!(
                &fs::read(backing.join(format!("f{case}"))).unwrap(),
                &m.synced
            );
            Ok(())
        })
        .unwrap();
    pfs.unmount().unwrap();
}
