//! faultline's clock-skew shim: an LD_PRELOAD library that shifts only the
//! wall clock of the process it is loaded into.
//!
//! It defines `clock_gettime`, `gettimeofday`, `time` and `timespec_get`, so
//! the dynamic linker binds a program's calls to them here instead of to libc.
//! `CLOCK_REALTIME` and `CLOCK_REALTIME_COARSE` (and `TIME_UTC`) get the real
//! time plus an offset; every other clock (monotonic, boottime, CPU clocks) is
//! passed through unchanged, so sleeps, timeouts and condition-variable waits
//! keep working.
//!
//! The offset, in milliseconds as text (`+30000`, `-60000`, optional
//! whitespace), is read from the file named by `FAULTLINE_SKEW_FILE`, again at
//! most every 10 ms (measured on `CLOCK_MONOTONIC_COARSE`), so it can be
//! changed while the process runs. A missing, unreadable or malformed file
//! means offset 0.
//!
//! Rules that keep the shim safe inside any process (allocators, runtimes,
//! early constructors): it never allocates, never calls `dlsym` and never calls
//! back into libc's clock functions; it talks to the kernel with raw `syscall`
//! instructions and keeps its state in atomics and one buffer written only by
//! its constructor, before any other thread exists. The price is one real
//! system call per clock read instead of the vDSO: fine for tests.
//!
//! Built by `nemesis/build.rs` with plain `rustc` as a `no_std` cdylib.

#![no_std]

use core::sync::atomic::{AtomicBool, AtomicI64, Ordering};

#[cfg(target_arch = "x86_64")]
mod sys {
    pub const CLOCK_GETTIME: usize = 228;
    pub const GETTIMEOFDAY: usize = 96;
    pub const OPENAT: usize = 257;
    pub const PREAD64: usize = 17;
    pub const CLOSE: usize = 3;

    /// A raw system call with up to four arguments; returns `-errno` on failure.
    #[inline(always)]
    pub unsafe fn call(n: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
        let ret: isize;
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
        ret
    }

    /// Kills the process with an illegal instruction (SIGILL).
    pub unsafe fn abort() -> ! {
        core::arch::asm!("ud2", options(noreturn))
    }
}

#[cfg(target_arch = "aarch64")]
mod sys {
    pub const CLOCK_GETTIME: usize = 113;
    pub const GETTIMEOFDAY: usize = 169;
    pub const OPENAT: usize = 56;
    pub const PREAD64: usize = 67;
    pub const CLOSE: usize = 57;

    /// A raw system call with up to four arguments; returns `-errno` on failure.
    #[inline(always)]
    pub unsafe fn call(n: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
        let ret: isize;
        core::arch::asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a1 as isize => ret,
            in("x1") a2, in("x2") a3, in("x3") a4,
            options(nostack),
        );
        ret
    }

    /// Kills the process with a breakpoint trap (SIGTRAP).
    pub unsafe fn abort() -> ! {
        core::arch::asm!("brk #0x1", options(noreturn))
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("faultline's clock shim supports only x86_64 and aarch64 Linux");

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
const CLOCK_REALTIME_COARSE: i32 = 5;
const CLOCK_MONOTONIC_COARSE: i32 = 6;
const AT_FDCWD: isize = -100;
const O_RDONLY_NONBLOCK_CLOEXEC: usize = 0o4000 | 0o2000000;
const NANOS: i64 = 1_000_000_000;
/// How often the skew file is read again, at most.
const REREAD_NS: i64 = 10_000_000;
/// The largest offset accepted, in milliseconds (about 31 years).
const MAX_OFFSET_MS: i64 = 1_000_000_000_000;
const ENV_NAME: &[u8] = b"FAULTLINE_SKEW_FILE=";
const NEVER: i64 = i64::MIN;

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
pub struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

impl Timespec {
    const ZERO: Timespec = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
}

/// `struct timeval` on 64-bit Linux.
#[repr(C)]
pub struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

/// The skew file's path, NUL-terminated; written once by the constructor.
struct PathBuf(core::cell::UnsafeCell<[u8; 4096]>);
// SAFETY: written only by `init` before `HAVE_PATH` is published (Release) and
// before the program can start threads; read only after seeing it (Acquire).
unsafe impl Sync for PathBuf {}
static PATH: PathBuf = PathBuf(core::cell::UnsafeCell::new([0; 4096]));
static HAVE_PATH: AtomicBool = AtomicBool::new(false);
/// The offset in effect, in milliseconds.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);
/// `CLOCK_MONOTONIC_COARSE` in ns when the file was last read, or `NEVER`.
static LAST_READ: AtomicI64 = AtomicI64::new(NEVER);

#[link(name = "c")]
extern "C" {
    static environ: *const *const u8;
    fn __errno_location() -> *mut i32;
}

/// Runs when the library is loaded: finds `FAULTLINE_SKEW_FILE` and keeps its
/// value. glibc passes argc, argv and envp to `.init_array` functions; other
/// libcs may not, so there only `environ` is used.
unsafe extern "C" fn init(_argc: i32, _argv: *const *const u8, envp: *const *const u8) {
    #[cfg(target_env = "gnu")]
    let mut env = envp;
    #[cfg(not(target_env = "gnu"))]
    let mut env = {
        let _ = envp;
        core::ptr::null()
    };
    if env.is_null() {
        env = environ;
    }
    if env.is_null() {
        return;
    }
    while !(*env).is_null() {
        let entry = *env;
        env = env.add(1);
        if !starts_with(entry, ENV_NAME) {
            continue;
        }
        let value = entry.add(ENV_NAME.len());
        let buf = &mut *PATH.0.get();
        let mut i = 0;
        while *value.add(i) != 0 {
            if i + 1 >= buf.len() {
                return; // too long: no skew file, offset 0
            }
            buf[i] = *value.add(i);
            i += 1;
        }
        buf[i] = 0;
        HAVE_PATH.store(i > 0, Ordering::Release);
        return;
    }
}

#[used]
#[link_section = ".init_array"]
static INIT: unsafe extern "C" fn(i32, *const *const u8, *const *const u8) = init;

/// Whether the NUL-terminated string `s` starts with `prefix`.
unsafe fn starts_with(s: *const u8, prefix: &[u8]) -> bool {
    for (i, &b) in prefix.iter().enumerate() {
        if *s.add(i) != b {
            return false; // also stops at the NUL, which never equals `b`
        }
    }
    true
}

/// Reads a clock with a raw system call; `-errno` on failure.
unsafe fn raw_clock(clock: i32, ts: *mut Timespec) -> isize {
    sys::call(
        sys::CLOCK_GETTIME,
        clock as isize as usize,
        ts as usize,
        0,
        0,
    )
}

/// Sets errno from a raw `-errno` result and returns -1, as libc does.
unsafe fn fail(ret: isize) -> i32 {
    *__errno_location() = (-ret) as i32;
    -1
}

/// Parses `[ws] [+|-] digits [ws]`; `None` if malformed or out of range.
fn parse_offset(text: &[u8]) -> Option<i64> {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = 0;
    while i < text.len() && is_ws(text[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < text.len() && (text[i] == b'+' || text[i] == b'-') {
        negative = text[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut value: i64 = 0;
    while i < text.len() && text[i].is_ascii_digit() {
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(text[i] - b'0'))?;
        if value > MAX_OFFSET_MS {
            return None;
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    while i < text.len() && is_ws(text[i]) {
        i += 1;
    }
    if i != text.len() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Reads the skew file now; 0 for anything but a well-formed offset.
unsafe fn read_offset_file() -> i64 {
    let path = PATH.0.get() as *const u8;
    let fd = sys::call(
        sys::OPENAT,
        AT_FDCWD as usize,
        path as usize,
        O_RDONLY_NONBLOCK_CLOEXEC,
        0,
    );
    if fd < 0 {
        return 0;
    }
    let mut buf = [0u8; 64];
    let n = sys::call(
        sys::PREAD64,
        fd as usize,
        buf.as_mut_ptr() as usize,
        buf.len(),
        0,
    );
    sys::call(sys::CLOSE, fd as usize, 0, 0, 0);
    if n <= 0 || n as usize >= buf.len() {
        return 0; // unreadable, empty, or too long to be an offset
    }
    parse_offset(&buf[..n as usize]).unwrap_or(0)
}

/// The offset to apply now, in nanoseconds, re-reading the file when due.
unsafe fn offset_ns() -> i64 {
    if !HAVE_PATH.load(Ordering::Acquire) {
        return 0;
    }
    let mut now = Timespec::ZERO;
    if raw_clock(CLOCK_MONOTONIC_COARSE, &mut now) == 0 {
        let now_ns = now.tv_sec * NANOS + now.tv_nsec;
        let last = LAST_READ.load(Ordering::Relaxed);
        let due = last == NEVER || now_ns - last >= REREAD_NS || now_ns < last;
        // One thread re-reads; the others keep the cached offset meanwhile.
        if due
            && LAST_READ
                .compare_exchange(last, now_ns, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            OFFSET_MS.store(read_offset_file(), Ordering::Relaxed);
        }
    }
    OFFSET_MS.load(Ordering::Relaxed) * 1_000_000
}

/// Adds `ns` nanoseconds to a (seconds, fraction) pair counting `per_sec`
/// fractions per second.
fn shift(sec: &mut i64, sub: &mut i64, ns: i64, per_sec: i64) {
    let unit = NANOS / per_sec;
    *sec += ns / NANOS;
    *sub += (ns % NANOS) / unit;
    if *sub < 0 {
        *sub += per_sec;
        *sec -= 1;
    } else if *sub >= per_sec {
        *sub -= per_sec;
        *sec += 1;
    }
}

/// `clock_gettime(2)`: wall clocks shifted, every other clock untouched.
///
/// # Safety
///
/// Called by C code with libc's contract: pointers are valid or null where
/// libc allows null.
#[no_mangle]
pub unsafe extern "C" fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32 {
    let ret = raw_clock(clock, ts);
    if ret != 0 {
        return fail(ret);
    }
    if clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE {
        let ts = &mut *ts;
        shift(&mut ts.tv_sec, &mut ts.tv_nsec, offset_ns(), NANOS);
    }
    0
}

/// `gettimeofday(2)`, shifted; the time zone (if asked) comes from the kernel.
///
/// # Safety
///
/// Called by C code with libc's contract: pointers are valid or null where
/// libc allows null.
#[no_mangle]
pub unsafe extern "C" fn gettimeofday(tv: *mut Timeval, tz: *mut u8) -> i32 {
    let ret = sys::call(sys::GETTIMEOFDAY, tv as usize, tz as usize, 0, 0);
    if ret != 0 {
        return fail(ret);
    }
    if !tv.is_null() {
        let tv = &mut *tv;
        shift(&mut tv.tv_sec, &mut tv.tv_usec, offset_ns(), 1_000_000);
    }
    0
}

/// `time(2)`, shifted.
///
/// # Safety
///
/// Called by C code with libc's contract: pointers are valid or null where
/// libc allows null.
#[no_mangle]
pub unsafe extern "C" fn time(tloc: *mut i64) -> i64 {
    let mut ts = Timespec::ZERO;
    let ret = clock_gettime(CLOCK_REALTIME, &mut ts);
    if ret != 0 {
        return -1;
    }
    if !tloc.is_null() {
        *tloc = ts.tv_sec;
    }
    ts.tv_sec
}

/// C11 `timespec_get`: `TIME_UTC` shifted; the C2y monotonic and CPU bases
/// mapped to their clocks unchanged; 0 for anything else or on error.
///
/// # Safety
///
/// Called by C code with libc's contract: pointers are valid or null where
/// libc allows null.
#[no_mangle]
pub unsafe extern "C" fn timespec_get(ts: *mut Timespec, base: i32) -> i32 {
    let clock = match base {
        1 => CLOCK_REALTIME,
        2 => CLOCK_MONOTONIC,
        3 => CLOCK_PROCESS_CPUTIME_ID,
        4 => CLOCK_THREAD_CPUTIME_ID,
        _ => return 0,
    };
    if clock_gettime(clock, ts) != 0 {
        return 0;
    }
    base
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing here can panic; if it ever did, stop the process loudly.
    // SAFETY: ends the process; nothing runs after it.
    unsafe { sys::abort() }
}
