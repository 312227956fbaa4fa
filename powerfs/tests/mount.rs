//! powerfs mounted for real: what survives a power loss and what does not.
//! Needs root, /dev/fuse and fusermount3; each test skips (with a line on
//! stderr) otherwise.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use faultline_powerfs::{mounts, PowerFs};

fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return false;
    }
    if let Err(e) = faultline_powerfs::available() {
        eprintln!("skipped: {e}");
        return false;
    }
    true
}

struct Fixture {
    _dir: tempfile::TempDir,
    backing: std::path::PathBuf,
    fs: Option<PowerFs>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("backing");
        let mnt = dir.path().join("mnt");
        fs::create_dir(&backing).unwrap();
        fs::create_dir(&mnt).unwrap();
        let fs = PowerFs::mount(&backing, &mnt).unwrap();
        Fixture {
            _dir: dir,
            backing,
            fs: Some(fs),
        }
    }
    fn fs(&self) -> &PowerFs {
        self.fs.as_ref().unwrap()
    }
    fn p(&self, rel: &str) -> std::path::PathBuf {
        self.fs().mountpoint().join(rel)
    }
    fn power_loss(&self) {
        self.fs().power_loss().unwrap();
    }
}

fn write_synced(path: &Path, data: &[u8]) {
    let mut f = File::create(path).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn unsynced_write_is_lost_synced_write_is_kept() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("a"), b"durable");
    let mut f = OpenOptions::new().append(true).open(fx.p("a")).unwrap();
    f.write_all(b" and volatile").unwrap();
    drop(f);
    assert_eq!(fs::read(fx.p("a")).unwrap(), b"durable and volatile");
    assert_eq!(fs::read(fx.backing.join("a")).unwrap(), b"durable");
    let st = fx.fs().status();
    assert_eq!(st.dirty_files, 1);
    fx.power_loss();
    assert_eq!(fs::read(fx.p("a")).unwrap(), b"durable");
    assert_eq!(fs::metadata(fx.p("a")).unwrap().len(), 7);
    assert_eq!(fx.fs().status().dirty_files, 0);
}

#[test]
fn unsynced_overwrite_and_truncate_are_restored() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("t"), &[b'x'; 10000]);
    let f = OpenOptions::new().write(true).open(fx.p("t")).unwrap();
    f.write_all_at(b"yyy", 5000).unwrap();
    f.set_len(100).unwrap();
    drop(f);
    assert_eq!(fs::metadata(fx.p("t")).unwrap().len(), 100);
    fx.power_loss();
    assert_eq!(fs::read(fx.p("t")).unwrap(), vec![b'x'; 10000]);
}

#[test]
fn database_log_keeps_exactly_the_synced_prefix() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(fx.p("wal"))
        .unwrap();
    let mut synced = Vec::new();
    for i in 0..50u32 {
        let rec = format!("record {i:05}\n");
        log.write_all(rec.as_bytes()).unwrap();
        synced.extend_from_slice(rec.as_bytes());
    }
    log.sync_data().unwrap();
    for i in 50..80u32 {
        log.write_all(format!("record {i:05}\n").as_bytes())
            .unwrap();
    }
    drop(log);
    fx.power_loss();
    assert_eq!(fs::read(fx.p("wal")).unwrap(), synced);
}

#[test]
fn new_file_fsynced_keeps_its_name_ext4_like() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    fs::create_dir(fx.p("d")).unwrap();
    // Created and written, never fsynced itself; the next fsync (of another
    // file) commits its name but not its data: it comes back empty.
    fs::write(fx.p("d/named"), b"data never synced").unwrap();
    write_synced(&fx.p("d/kept"), b"k");
    // Created after the last fsync: undone.
    fs::write(fx.p("d/lost"), b"l").unwrap();
    fs::create_dir(fx.p("d/sub")).unwrap();
    fx.power_loss();
    assert_eq!(fs::read(fx.p("d/kept")).unwrap(), b"k");
    assert_eq!(fs::read(fx.p("d/named")).unwrap(), b"");
    assert!(!fx.p("d/lost").exists());
    assert!(!fx.p("d/sub").exists());
}

#[test]
fn rename_over_existing_without_fsync_is_undone() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("config"), b"old");
    write_synced(&fx.p("config.tmp"), b"new");
    fs::rename(fx.p("config.tmp"), fx.p("config")).unwrap();
    assert_eq!(fs::read(fx.p("config")).unwrap(), b"new");
    fx.power_loss();
    assert_eq!(fs::read(fx.p("config")).unwrap(), b"old");
    assert_eq!(fs::read(fx.p("config.tmp")).unwrap(), b"new");
    // With the directory fsynced, the rename stays.
    fs::rename(fx.p("config.tmp"), fx.p("config")).unwrap();
    File::open(fx.fs().mountpoint())
        .unwrap()
        .sync_all()
        .unwrap();
    fx.power_loss();
    assert_eq!(fs::read(fx.p("config")).unwrap(), b"new");
    assert!(!fx.p("config.tmp").exists());
}

#[test]
fn unlink_without_fsync_comes_back() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("victim"), b"still here");
    fs::create_dir(fx.p("emptydir")).unwrap();
    File::open(fx.fs().mountpoint())
        .unwrap()
        .sync_all()
        .unwrap();
    fs::remove_file(fx.p("victim")).unwrap();
    fs::remove_dir(fx.p("emptydir")).unwrap();
    assert!(!fx.p("victim").exists());
    let names: Vec<_> = fs::read_dir(fx.fs().mountpoint())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "trash must be hidden: {names:?}");
    assert!(!fx.p(".faultline-powerfs-trash").exists());
    let err = fs::write(fx.p(".faultline-powerfs-trash"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    fx.power_loss();
    assert_eq!(fs::read(fx.p("victim")).unwrap(), b"still here");
    assert!(fx.p("emptydir").is_dir());
}

#[test]
fn unmount_leaves_nothing_in_proc_mounts() {
    if !usable() {
        return;
    }
    let mut fx = Fixture::new();
    let mnt = fx.fs().mountpoint().to_path_buf();
    assert!(mounts().contains(&mnt));
    let line = fs::read_to_string("/proc/mounts").unwrap();
    assert!(line.contains("faultline-powerfs"));
    fx.fs.take().unwrap().unmount().unwrap();
    assert!(!mounts().contains(&mnt));
    // Drop unmounts too.
    let fx2 = Fixture::new();
    let mnt2 = fx2.fs().mountpoint().to_path_buf();
    drop(fx2);
    assert!(!mounts().contains(&mnt2));
}

#[test]
fn control_socket_answers_and_loses_power() {
    if !usable() {
        return;
    }
    use faultline_powerfs::{request, Command};
    let mut fx = Fixture::new();
    let sock = fx._dir.path().join("control.sock");
    fx.fs.as_mut().unwrap().serve_control(&sock).unwrap();
    assert_eq!(request(&sock, Command::Ping).unwrap(), Default::default());
    fs::write(fx.p("x"), vec![1u8; 5000]).unwrap();
    let st = request(&sock, Command::Status).unwrap();
    assert_eq!(
        (st.dirty_files, st.dirty_bytes, st.pending_dirops),
        (1, 8192, 1)
    );
    // Garbage is answered with an error, and the daemon keeps serving.
    let mut raw = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    raw.write_all(b"\xff\xfe reboot\n").unwrap();
    let mut reply = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&raw), &mut reply).unwrap();
    assert!(reply.starts_with("err "), "{reply}");
    drop(raw);
    let dropped = request(&sock, Command::PowerLoss).unwrap();
    assert_eq!(dropped.dirty_files, 1);
    assert!(!fx.p("x").exists());
    request(&sock, Command::SyncAll).unwrap();
    request(&sock, Command::DiskFull).unwrap();
    assert!(request(&sock, Command::Status).unwrap().disk_full);
    request(&sock, Command::DiskOk).unwrap();
    assert!(!request(&sock, Command::Status).unwrap().disk_full);
    fx.fs.take().unwrap().unmount().unwrap();
    assert!(!sock.exists());
}

#[test]
fn clean_unmount_keeps_everything() {
    if !usable() {
        return;
    }
    let mut fx = Fixture::new();
    fs::write(fx.p("unsynced"), b"written, never fsynced").unwrap();
    fx.fs.take().unwrap().unmount().unwrap();
    assert_eq!(
        fs::read(fx.backing.join("unsynced")).unwrap(),
        b"written, never fsynced"
    );
}

#[test]
fn other_users_create_their_own_files() {
    if !usable() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let fx = Fixture::new();
    fs::create_dir(fx.p("shared")).unwrap();
    fs::set_permissions(fx.p("shared"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::create_dir(fx.p("private")).unwrap();
    fs::set_permissions(fx.p("private"), fs::Permissions::from_mode(0o700)).unwrap();
    let run = |script: String| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .uid(65534)
            .gid(65534)
            .status()
            .unwrap()
            .success()
    };
    assert!(run(format!("echo hi > {}", fx.p("shared/mine").display())));
    let m = fs::metadata(fx.p("shared/mine")).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    assert!(!run(format!(
        "echo hi > {}",
        fx.p("private/nope").display()
    )));
}

#[test]
fn directory_rename_is_undone_with_its_contents() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    fs::create_dir(fx.p("d")).unwrap();
    write_synced(&fx.p("d/f"), b"in d");
    // A refused operation leaves no trace.
    let err = fs::remove_dir(fx.p("d")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTEMPTY));
    fs::rename(fx.p("d"), fx.p("e")).unwrap();
    fs::write(fx.p("e/g"), b"new in e").unwrap();
    assert_eq!(fs::read(fx.p("e/f")).unwrap(), b"in d");
    assert_eq!(fx.fs().status().pending_dirops, 2);
    fx.power_loss();
    assert_eq!(fs::read(fx.p("d/f")).unwrap(), b"in d");
    assert!(!fx.p("e").exists());
    assert!(!fx.p("d/g").exists());
}

#[test]
fn open_files_go_stale_at_power_loss() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("held"), b"synced");
    let f = OpenOptions::new().write(true).open(fx.p("held")).unwrap();
    f.write_all_at(b"unsynced", 0).unwrap();
    fx.power_loss();
    // The process "died" with the power: its descriptor no longer reaches the file.
    let err = f.write_all_at(b"zombie", 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESTALE), "{err}");
    drop(f);
    assert_eq!(fs::read(fx.p("held")).unwrap(), b"synced");
}

#[test]
fn disk_full_refuses_growth_until_healed() {
    if !usable() {
        return;
    }
    let fx = Fixture::new();
    write_synced(&fx.p("log"), b"0123456789");
    fx.fs().set_disk_full(true);
    assert!(fx.fs().status().disk_full);
    let f = OpenOptions::new().write(true).open(fx.p("log")).unwrap();
    // Overwriting allocated bytes still works; growing does not.
    f.write_all_at(b"ab", 0).unwrap();
    let err = f.write_all_at(b"more", 10).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(
        f.set_len(100).unwrap_err().raw_os_error(),
        Some(libc::ENOSPC)
    );
    f.sync_all().unwrap();
    let err = fs::write(fx.p("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(
        fs::create_dir(fx.p("d")).unwrap_err().raw_os_error(),
        Some(libc::ENOSPC)
    );
    fx.fs().set_disk_full(false);
    f.write_all_at(b"more", 10).unwrap();
    fs::write(fx.p("new"), b"x").unwrap();
    assert_eq!(fs::read(fx.p("log")).unwrap(), b"ab23456789more");
}
