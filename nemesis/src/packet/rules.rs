//! The iptables rules behind packet faults, and a probe for `tc netem`.
//!
//! All rules live in one chain, [`CHAIN`], hooked from OUTPUT inside the
//! node's network namespace, so they touch only that node's egress and never
//! the partition chain. The builders return iptables argument lists (without
//! the `iptables` itself); the runner runs each as `ip netns exec <ns>
//! iptables <args>`, or calls [`run_in_netns`].
//!
//! Installing assumes a clean slate: run [`remove_commands`] first. Removing is
//! idempotent: its commands fail only with "no such chain/rule" errors when
//! nothing is installed, which [`is_missing_error`] recognises and
//! [`run_in_netns`] ignores when asked to.

use std::net::Ipv4Addr;
use std::process::Command;

use faultline_harness::remote::logged;

use super::PacketError;

/// The chain packet faults live in.
pub const CHAIN: &str = "FAULTLINE_PKT";

/// The firewall mark the delayer puts on the copies it sends for duplication,
/// so the chain lets them pass instead of queueing them again.
pub const DUPLICATE_MARK: u32 = 0x464c_0d0b;

/// What the chain does with matching egress packets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Egress {
    /// Drop each with this probability (the `statistic` match).
    Drop {
        /// In `0..=1`.
        probability: f64,
    },
    /// Hand them to the delayer bound to this NFQUEUE number (bypassed when
    /// no delayer is bound).
    Queue {
        /// The queue number.
        num: u16,
    },
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Checks an IPv4 address or `address/prefix`.
fn check_destination(dest: &str) -> Result<(), PacketError> {
    let (addr, prefix) = match dest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (dest, None),
    };
    let prefix_ok = prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= 32));
    if addr.parse::<Ipv4Addr>().is_err() || !prefix_ok {
        return Err(PacketError::Invalid(format!(
            "destination {dest:?} is not an IPv4 address or network"
        )));
    }
    Ok(())
}

/// The iptables argument lists that create [`CHAIN`], hook it from OUTPUT and
/// fill it for `egress`. Loopback traffic is never touched; with
/// `destinations` non-empty only packets toward them are.
pub fn install_commands(
    egress: &Egress,
    destinations: &[String],
) -> Result<Vec<Vec<String>>, PacketError> {
    for d in destinations {
        check_destination(d)?;
    }
    let mut cmds = vec![
        args(&["-w", "-N", CHAIN]),
        args(&["-w", "-A", CHAIN, "-o", "lo", "-j", "RETURN"]),
    ];
    let target: Vec<String> = match *egress {
        Egress::Drop { probability } => {
            if !(0.0..=1.0).contains(&probability) {
                return Err(PacketError::Invalid(format!(
                    "loss probability {probability} is not between 0 and 1"
                )));
            }
            if probability >= 1.0 {
                args(&["-j", "DROP"])
            } else {
                let p = format!("{probability}");
                args(&[
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ])
            }
        }
        Egress::Queue { num } => {
            let mark = format!("{DUPLICATE_MARK:#x}");
            cmds.push(args(&[
                "-w", "-A", CHAIN, "-m", "mark", "--mark", &mark, "-j", "RETURN",
            ]));
            let num = num.to_string();
            args(&["-j", "NFQUEUE", "--queue-num", &num, "--queue-bypass"])
        }
    };
    let skip = matches!(egress, Egress::Drop { probability } if *probability <= 0.0);
    if !skip {
        let dests: Vec<Option<&String>> = if destinations.is_empty() {
            vec![None]
        } else {
            destinations.iter().map(Some).collect()
        };
        for d in dests {
            let mut rule = args(&["-w", "-A", CHAIN]);
            if let Some(d) = d {
                rule.extend(["-d".to_owned(), d.clone()]);
            }
            rule.extend(target.iter().cloned());
            cmds.push(rule);
        }
    }
    cmds.push(args(&["-w", "-I", "OUTPUT", "-j", CHAIN]));
    Ok(cmds)
}

/// The iptables argument lists that unhook, flush and delete [`CHAIN`]. When
/// nothing is installed they fail with errors [`is_missing_error`] accepts.
pub fn remove_commands() -> Vec<Vec<String>> {
    vec![
        args(&["-w", "-D", "OUTPUT", "-j", CHAIN]),
        args(&["-w", "-F", CHAIN]),
        args(&["-w", "-X", CHAIN]),
    ]
}

/// Whether iptables' stderr says the chain or rule is not there (nf_tables
/// and legacy wordings), the only failure removal expects.
pub fn is_missing_error(stderr: &str) -> bool {
    [
        "No chain/target/match",
        "does not exist",
        "does a matching rule exist",
        "Couldn't load target",
    ]
    .iter()
    .any(|m| stderr.contains(m))
}

/// Runs `ip netns exec <ns> iptables <args>` for each list in turn. With
/// `tolerate_missing`, failures that [`is_missing_error`] accepts are
/// ignored (use it for [`remove_commands`]); any other failure stops the run.
pub fn run_in_netns(
    ns: &str,
    cmds: &[Vec<String>],
    tolerate_missing: bool,
) -> Result<(), PacketError> {
    for a in cmds {
        let cmd = format!("ip netns exec {ns} iptables {}", a.join(" "));
        let started = std::time::Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "iptables"])
            .args(a)
            .output()
            .map_err(|source| {
                logged::local(ns, &cmd, started, Err(&source.to_string()), "");
                PacketError::Spawn {
                    cmd: cmd.clone(),
                    source,
                }
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        logged::local(
            ns,
            &cmd,
            started,
            Ok(out.status.code().unwrap_or(-1)),
            &stderr,
        );
        let tolerated = tolerate_missing && is_missing_error(&stderr);
        if !out.status.success() && !tolerated {
            return Err(PacketError::Command { cmd, stderr });
        }
    }
    Ok(())
}

/// Whether `tc qdisc ... netem` works on this machine: tried on the loopback
/// of a throwaway namespace (needs root and iproute2); failing that, read from
/// the kernel config (`/proc/config.gz` through `zcat`, or
/// `/boot/config-<release>`). False when neither can tell.
pub fn netem_available() -> bool {
    probe_tc().or_else(probe_config).unwrap_or(false)
}

fn quiet(cmd: &mut Command) -> Option<bool> {
    cmd.output().ok().map(|o| o.status.success())
}

fn probe_tc() -> Option<bool> {
    let ns = format!("flnetem-{}", std::process::id());
    if quiet(Command::new("ip").args(["netns", "add", &ns])) != Some(true) {
        return None;
    }
    let works = quiet(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]))
        == Some(true)
        && quiet(Command::new("tc").args([
            "-n", &ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ])) == Some(true);
    quiet(Command::new("ip").args(["netns", "del", &ns]));
    Some(works)
}

fn probe_config() -> Option<bool> {
    let text = Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .or_else(|| {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
            std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()
        })?;
    netem_in_config(&text)
}

/// What a kernel config says about netem: `Some(true)` for `=y`/`=m`,
/// `Some(false)` for "is not set", `None` when it does not mention it.
fn netem_in_config(config: &str) -> Option<bool> {
    config.lines().find_map(|l| {
        let l = l.trim();
        if l == "CONFIG_NET_SCH_NETEM=y" || l == "CONFIG_NET_SCH_NETEM=m" {
            Some(true)
        } else if l == "# CONFIG_NET_SCH_NETEM is not set" {
            Some(false)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cmd: &[String]) -> String {
        cmd.join(" ")
    }

    #[test]
    fn loss_rules() {
        let cmds = install_commands(&Egress::Drop { probability: 0.2 }, &[]).unwrap();
        let lines: Vec<String> = cmds.iter().map(|c| line(c)).collect();
        assert_eq!(lines[0], "-w -N FAULTLINE_PKT");
        assert_eq!(lines[1], "-w -A FAULTLINE_PKT -o lo -j RETURN");
        assert_eq!(
            lines[2],
            "-w -A FAULTLINE_PKT -m statistic --mode random --probability 0.2 -j DROP"
        );
        assert_eq!(lines.last().unwrap(), "-w -I OUTPUT -j FAULTLINE_PKT");
        let all = install_commands(&Egress::Drop { probability: 1.0 }, &[]).unwrap();
        assert_eq!(line(&all[2]), "-w -A FAULTLINE_PKT -j DROP");
        let none = install_commands(&Egress::Drop { probability: 0.0 }, &[]).unwrap();
        assert_eq!(none.len(), 3, "chain, loopback return, hook");
        assert!(install_commands(&Egress::Drop { probability: -0.1 }, &[]).is_err());
    }

    #[test]
    fn queue_rules_per_destination() {
        let dests = ["10.1.0.2".to_owned(), "10.2.0.0/16".to_owned()];
        let cmds = install_commands(&Egress::Queue { num: 4 }, &dests).unwrap();
        let lines: Vec<String> = cmds.iter().map(|c| line(c)).collect();
        assert!(lines.contains(&format!(
            "-w -A FAULTLINE_PKT -m mark --mark {DUPLICATE_MARK:#x} -j RETURN"
        )));
        assert!(lines.contains(
            &"-w -A FAULTLINE_PKT -d 10.1.0.2 -j NFQUEUE --queue-num 4 --queue-bypass".to_owned()
        ));
        assert!(lines.contains(
            &"-w -A FAULTLINE_PKT -d 10.2.0.0/16 -j NFQUEUE --queue-num 4 --queue-bypass"
                .to_owned()
        ));
        for bad in ["n1", "10.0.0.300", "10.0.0.0/33", "::1"] {
            assert!(
                install_commands(&Egress::Queue { num: 1 }, &[bad.to_owned()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn removal_and_missing_errors() {
        let lines: Vec<String> = remove_commands().iter().map(|c| line(c)).collect();
        assert_eq!(
            lines,
            [
                "-w -D OUTPUT -j FAULTLINE_PKT",
                "-w -F FAULTLINE_PKT",
                "-w -X FAULTLINE_PKT"
            ]
        );
        assert!(is_missing_error(
            "iptables v1.8.9 (nf_tables): Chain 'FAULTLINE_PKT' does not exist"
        ));
        assert!(is_missing_error(
            "iptables: No chain/target/match by that name."
        ));
        assert!(is_missing_error(
            "iptables: Bad rule (does a matching rule exist in that chain?)."
        ));
        assert!(!is_missing_error("iptables: Permission denied"));
    }

    #[test]
    fn kernel_config_parsing() {
        assert_eq!(netem_in_config("A=y\nCONFIG_NET_SCH_NETEM=m\n"), Some(true));
        assert_eq!(
            netem_in_config("# CONFIG_NET_SCH_NETEM is not set\n"),
            Some(false)
        );
        assert_eq!(netem_in_config("CONFIG_NET_SCH_HTB=y\n"), None);
    }
}
