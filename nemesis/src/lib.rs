//! # faultline-nemesis: the faults
//!
//! The nemesis is the adversary of a test: network partitions (iptables rules
//! inside node namespaces), packet loss, delay, duplication and reordering (the
//! `statistic` match and faultline's own NFQUEUE delayer, since this kernel has no
//! `tc netem`), clock skew (an LD_PRELOAD shim that shifts only the wall clock),
//! process pauses (SIGSTOP/SIGCONT), crashes (`kill -9`) and leader kills, power
//! loss and full disks (through powerfs under each data directory), and their
//! composition on a schedule.
//!
//! Every fault verb comes with its inverse (partition/heal, kill/start,
//! pause/resume, skew/reset), and healing is idempotent: `heal_all` runs on every
//! exit path and is harmless when nothing is broken.
//!
//! Built: partitions ([`partition`]), packet faults ([`packet`]), clock skew
//! ([`clock`], and [`reach`]: whether its shim can reach a program), the clock
//! faults on the shim or a host's real clock ([`clock_faults`]), and
//! [`local::LocalNemesis`], which drives them all, with crashes and pauses,
//! over any `Remote`; [`power::PowerNemesis`] cuts the power of nodes whose
//! data directories are powerfs mounts; [`membership::MembershipNemesis`]
//! changes a cluster's membership through a target's own protocol.

pub mod clock;
pub mod clock_faults;
mod elf;
pub mod local;
pub mod membership;
pub mod packet;
pub mod partition;
pub mod power;
pub mod reach;
