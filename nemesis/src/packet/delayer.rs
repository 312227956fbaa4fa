//! The NFQUEUE delayer behind `faultline _delayer`.
//!
//! It binds one NFQUEUE (the pure-Rust `nfq` crate), asks [`Fates`] what to do
//! with each packet the chain hands it, and keeps held packets in a
//! [`Timeline`], giving each its ACCEPT verdict when due. One thread: the
//! socket is non-blocking and the loop sleeps in `poll(2)` until a packet
//! arrives or the earliest held packet is due.
//!
//! Duplication: an NFQUEUE verdict cannot clone a packet (`NF_REPEAT` only
//! runs the same packet through the hook again, where it is queued again), so
//! the delayer sends the copy itself: right after accepting the original it
//! writes the same bytes (the IPv4 packet, checksums already filled in, since
//! the queue is not in GSO mode) to a raw `IPPROTO_RAW` socket in the same
//! namespace. The copy carries the mark [`DUPLICATE_MARK`], which the chain
//! lets through without queueing. Only IPv4 packets no larger than the route's
//! MTU can be copied; the others go out once.
//!
//! On SIGTERM or SIGINT it accepts every held packet, unbinds and returns. A
//! delayer killed outright loses what it held (the kernel drops packets still
//! awaiting a verdict), and `--queue-bypass` lets traffic flow from then on.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nfq::{Message, Queue, Verdict};

use super::rules::DUPLICATE_MARK;
use super::schedule::{Fate, Fates, Timeline};
use super::{PacketError, PacketFault};

/// How long the loop sleeps at most between checks of the stop flag.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// The delayer's settings: its queue, its fault and its seed.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayerConfig {
    /// The NFQUEUE number to bind.
    pub queue: u16,
    /// What to do to packets.
    pub fault: PacketFault,
    /// The random seed.
    pub seed: u64,
}

impl DelayerConfig {
    /// Parses `--queue N [--delay-ms N] [--jitter-ms N] [--loss P]
    /// [--duplicate P] [--reorder P] [--seed N]` (also `--name=value`).
    pub fn parse(args: &[String]) -> Result<DelayerConfig, PacketError> {
        let bad = PacketError::Usage;
        let mut queue = None;
        let mut fault = PacketFault::default();
        let mut seed = 0u64;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, value) = match arg.split_once('=') {
                Some((n, v)) => (n, v.to_owned()),
                None => {
                    let v = it
                        .next()
                        .ok_or_else(|| bad(format!("option {arg} needs a value")))?;
                    (arg.as_str(), v.clone())
                }
            };
            let num = |what: &str| bad(format!("option {name}: {value:?} is not {what}"));
            match name {
                "--queue" => queue = Some(value.parse().map_err(|_| num("a queue number"))?),
                "--delay-ms" => fault.delay_ms = value.parse().map_err(|_| num("milliseconds"))?,
                "--jitter-ms" => {
                    fault.jitter_ms = value.parse().map_err(|_| num("milliseconds"))?
                }
                "--loss" => fault.loss = value.parse().map_err(|_| num("a probability"))?,
                "--duplicate" => {
                    fault.duplicate = value.parse().map_err(|_| num("a probability"))?
                }
                "--reorder" => fault.reorder = value.parse().map_err(|_| num("a probability"))?,
                "--seed" => seed = value.parse().map_err(|_| num("a seed"))?,
                _ => return Err(bad(format!("unknown option {name}"))),
            }
        }
        let queue = queue.ok_or_else(|| bad("--queue N is required".to_owned()))?;
        fault.validate()?;
        Ok(DelayerConfig { queue, fault, seed })
    }

    /// The arguments [`DelayerConfig::parse`] reads back as `self`.
    pub fn to_args(&self) -> Vec<String> {
        let f = &self.fault;
        [
            ("--queue", self.queue.to_string()),
            ("--delay-ms", f.delay_ms.to_string()),
            ("--jitter-ms", f.jitter_ms.to_string()),
            ("--loss", f.loss.to_string()),
            ("--duplicate", f.duplicate.to_string()),
            ("--reorder", f.reorder.to_string()),
            ("--seed", self.seed.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v])
        .collect()
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Sets SIGTERM and SIGINT to raise [`STOP`], without `SA_RESTART` so that a
/// `poll` in progress returns at once.
fn install_signal_handlers() -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an
        // atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// This process's open file descriptors.
fn open_fds() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Opens the queue and finds its netlink socket (the `nfq` crate does not
/// expose it) as the one new descriptor that is an `AF_NETLINK` socket, so the
/// loop can `poll` it. `None` for the descriptor means: poll by sleeping.
fn open_queue() -> io::Result<(Queue, Option<RawFd>)> {
    let netlink = || -> Vec<RawFd> {
        open_fds()
            .into_iter()
            .filter(|fd| is_netlink(*fd))
            .collect()
    };
    let before = netlink();
    let queue = Queue::open()?;
    let fresh: Vec<RawFd> = netlink()
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    Ok((queue, (fresh.len() == 1).then(|| fresh[0])))
}

fn is_netlink(fd: RawFd) -> bool {
    let mut domain: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid pointers to a c_int and its length.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0 && domain == libc::AF_NETLINK
}

/// Waits until `fd` is readable, a signal arrives, or `timeout` passes.
fn wait(fd: Option<RawFd>, timeout: Duration) {
    let Some(fd) = fd else {
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
        return;
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// A raw IPv4 socket that sends copies of packets, marked [`DUPLICATE_MARK`].
struct Duplicator {
    fd: RawFd,
}

impl Duplicator {
    fn open() -> io::Result<Duplicator> {
        // SAFETY: plain socket calls; the descriptor is owned by the result.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let dup = Duplicator { fd };
            let mark = DUPLICATE_MARK;
            let rc = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_MARK,
                (&mark as *const u32).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            );
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(dup)
        }
    }

    /// Sends `packet` (a whole IPv4 packet) again. False if it cannot be.
    fn send(&self, packet: &[u8]) -> bool {
        if packet.len() < 20 || packet[0] >> 4 != 4 {
            return false;
        }
        // SAFETY: a zeroed sockaddr_in is valid; the buffer and address
        // pointers are valid for the lengths given.
        unsafe {
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr =
                u32::from_ne_bytes([packet[16], packet[17], packet[18], packet[19]]);
            let n = libc::sendto(
                self.fd,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            n == packet.len() as isize
        }
    }
}

impl Drop for Duplicator {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours.
        unsafe { libc::close(self.fd) };
    }
}

/// What the delayer did, printed when it stops.
#[derive(Debug, Default)]
struct Counts {
    seen: u64,
    dropped: u64,
    immediate: u64,
    duplicated: u64,
    duplicate_failed: u64,
    flushed: u64,
}

struct Delayer {
    queue: Queue,
    dup: Option<Duplicator>,
    counts: Counts,
}

impl Delayer {
    fn verdict(&mut self, mut msg: Message, verdict: Verdict) -> Result<(), PacketError> {
        msg.set_verdict(verdict);
        self.queue.verdict(msg).map_err(|source| PacketError::Io {
            context: "NFQUEUE verdict".to_owned(),
            source,
        })
    }

    /// Accepts `msg`, then sends its copy if `duplicate`.
    fn release(&mut self, msg: Message, duplicate: bool) -> Result<(), PacketError> {
        let copy = duplicate.then(|| msg.get_payload().to_vec());
        self.verdict(msg, Verdict::Accept)?;
        if let (Some(copy), Some(dup)) = (copy, &self.dup) {
            if dup.send(&copy) {
                self.counts.duplicated += 1;
            } else {
                self.counts.duplicate_failed += 1;
            }
        }
        Ok(())
    }
}

fn io_err(context: &str) -> impl FnOnce(io::Error) -> PacketError + '_ {
    move |source| PacketError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Prints a status line on stdout; a closed stdout is not an error.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Runs the delayer until SIGTERM or SIGINT; see the module docs.
pub fn run(config: &DelayerConfig) -> Result<(), PacketError> {
    let n = config.queue;
    install_signal_handlers().map_err(io_err("installing signal handlers"))?;
    let (mut queue, fd) = open_queue().map_err(io_err("opening the NFQUEUE socket"))?;
    queue.bind(n).map_err(io_err(&format!(
        "binding NFQUEUE {n} (is another delayer on it?)"
    )))?;
    let copying = config.fault.duplicate > 0.0;
    let setup = (|| {
        // Without duplication only the verdict matters: copying metadata
        // alone keeps the memory per held packet small.
        queue.set_copy_range(n, if copying { 0xffff } else { 0 })?;
        queue.set_queue_max_len(n, if copying { 1024 } else { 8192 })?;
        queue.set_fail_open(n, true)
    })();
    setup.map_err(io_err("configuring the NFQUEUE"))?;
    queue.set_nonblocking(true);
    let dup = if copying {
        Some(Duplicator::open().map_err(io_err("opening the raw socket for duplicates"))?)
    } else {
        None
    };
    let mut d = Delayer {
        queue,
        dup,
        counts: Counts::default(),
    };
    let mut fates = Fates::new(config.fault, config.seed);
    let mut held: Timeline<(Message, bool)> = Timeline::new();
    say(&format!(
        "faultline delayer: queue {n} bound ({}, seed {})",
        config.fault.describe(),
        config.seed
    ));
    let result = (|| -> Result<(), PacketError> {
        while !STOP.load(Ordering::SeqCst) {
            while let Some((msg, duplicate)) = held.pop_due(Instant::now()) {
                d.release(msg, duplicate)?;
            }
            loop {
                let msg = match d.queue.recv() {
                    Ok(msg) => msg,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => break,
                    Err(e) => return Err(io_err("receiving from the NFQUEUE")(e)),
                };
                d.counts.seen += 1;
                match fates.decide() {
                    Fate::Drop => {
                        d.counts.dropped += 1;
                        d.verdict(msg, Verdict::Drop)?;
                    }
                    Fate::Release { after, duplicate } if after.is_zero() => {
                        d.counts.immediate += 1;
                        d.release(msg, duplicate)?;
                    }
                    Fate::Release { after, duplicate } => {
                        held.push(Instant::now() + after, (msg, duplicate));
                    }
                }
                if STOP.load(Ordering::SeqCst) {
                    break;
                }
            }
            let now = Instant::now();
            let timeout = held
                .next_due()
                .map_or(MAX_WAIT, |due| due.saturating_duration_since(now))
                .min(MAX_WAIT);
            if !timeout.is_zero() {
                wait(fd, timeout);
            }
        }
        Ok(())
    })();
    // Stopping: everything held goes out now (duplicates are not sent).
    for (msg, _) in held.drain_all() {
        d.counts.flushed += 1;
        let _ = d.verdict(msg, Verdict::Accept);
    }
    let unbound = d.queue.unbind(n);
    let c = &d.counts;
    say(&format!(
        "faultline delayer: queue {n} stopped: {} packets, {} dropped, {} not delayed, {} duplicated ({} could not be), {} released at stop",
        c.seen, c.dropped, c.immediate, c.duplicated, c.duplicate_failed, c.flushed
    ));
    result?;
    unbound.map_err(io_err(&format!("unbinding NFQUEUE {n}")))
}
