//! Packet faults for real: two network namespaces joined by a veth pair; the
//! NFQUEUE delayer (`faultline _delayer`) adds its delay to the round trip,
//! duplicates packets when asked, the statistic rule loses some pings but not
//! all, and removing the rules restores the baseline. Needs root (CI runs as
//! root); without it the test says so and passes vacuously.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use faultline_nemesis::packet::{self, rules, PacketFault};

const QUEUE: u16 = 3;
const ADDR_A: &str = "10.199.37.1";
const ADDR_B: &str = "10.199.37.2";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// Runs a command that must succeed.
fn run(argv: &[&str]) {
    let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The two namespaces and the delayer; torn down whatever happens.
struct Lab {
    a: String,
    b: String,
    delayer: Option<(Child, BufReader<ChildStdout>)>,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            a: format!("flpk-a-{pid}"),
            b: format!("flpk-b-{pid}"),
            delayer: None,
        };
        let (a, b) = (lab.a.as_str(), lab.b.as_str());
        run(&["ip", "netns", "add", a]);
        run(&["ip", "netns", "add", b]);
        let veth = [
            "link", "add", "veth0", "type", "veth", "peer", "name", "veth0",
        ];
        run(&[&["ip", "-n", a][..], &veth, &["netns", b]].concat());
        for (ns, addr) in [(a, ADDR_A), (b, ADDR_B)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                "veth0",
            ]);
            run(&["ip", "-n", ns, "link", "set", "veth0", "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    /// Pings b from a; returns (sent, received, duplicates, average RTT in ms).
    fn ping(&self, count: u32, interval: &str) -> (u32, u32, u32, f64) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.a, "ping", "-n", "-q", "-W", "1"])
            .args(["-c", &count.to_string(), "-i", interval, ADDR_B])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "20 packets transmitted, 20 received, +20 duplicates, 0% packet loss, ..."
        let stat = |what: &str| -> u32 {
            text.split(", ")
                .flat_map(|part| part.split('\n'))
                .find_map(|part| {
                    part.trim()
                        .strip_suffix(what)?
                        .trim_start_matches('+')
                        .parse()
                        .ok()
                })
                .unwrap_or(0)
        };
        // "rtt min/avg/max/mdev = 0.041/0.052/0.071/0.009 ms"
        let avg = text
            .lines()
            .find_map(|l| l.split(" = ").nth(1)?.split('/').nth(1)?.parse().ok())
            .unwrap_or(f64::NAN);
        let r = (
            stat(" packets transmitted"),
            stat(" received"),
            stat(" duplicates"),
            avg,
        );
        println!("ping -c {count} -i {interval}: {r:?}");
        r
    }

    fn install(&self, fault: &PacketFault) {
        rules::run_in_netns(&self.a, &rules::remove_commands(), true).unwrap();
        let cmds = packet::rules_for(fault, QUEUE, &[ADDR_B.to_owned()]).unwrap();
        rules::run_in_netns(&self.a, &cmds, false).unwrap();
    }

    fn remove(&self) {
        rules::run_in_netns(&self.a, &rules::remove_commands(), true).unwrap();
    }

    /// Starts the delayer in a and waits until it has bound its queue.
    fn start_delayer(&mut self, fault: &PacketFault) {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.a,
                env!("CARGO_BIN_EXE_faultline"),
                "_delayer",
            ])
            .args(packet::delayer_args(QUEUE, fault, 7))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        self.delayer = Some((child, out));
        assert!(line.contains("bound"), "delayer said {line:?}");
    }

    /// Stops the delayer with SIGTERM; returns its final report.
    fn stop_delayer(&mut self) -> String {
        let (mut child, mut out) = self.delayer.take().expect("a delayer runs");
        run(&["kill", "-TERM", &child.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(3);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "delayer ignores SIGTERM");
            sleep(Duration::from_millis(10));
        };
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert!(status.success(), "delayer exited with {status}: {rest}");
        rest
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.delayer.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn delay_duplication_and_loss_on_a_veth_pair() {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces, iptables, NFQUEUE)");
        return;
    }
    println!("netem available: {}", packet::netem_available());
    let mut lab = Lab::new();
    let (sent, received, _, baseline) = lab.ping(20, "0.05");
    assert_eq!((sent, received), (20, 20), "the veth pair works");

    // Delay: 50 ms on a's egress, so on every echo request.
    let delay = PacketFault::delay(50, 0);
    lab.start_delayer(&delay);
    lab.install(&delay);
    let (_, received, _, delayed) = lab.ping(20, "0.05");
    assert_eq!(received, 20);
    let added = delayed - baseline;
    assert!((40.0..=200.0).contains(&added), "delay added {added} ms");
    let report = lab.stop_delayer();
    assert!(report.contains("stopped: "), "{report}");

    // With the rule still in place and no delayer, --queue-bypass lets
    // traffic through undelayed.
    let (_, received, _, bypassed) = lab.ping(5, "0.05");
    assert_eq!(received, 5, "queue bypass");
    assert!(bypassed < baseline + 10.0, "bypass RTT {bypassed} ms");

    // Duplication: every echo request goes out twice, so every reply comes
    // back twice (but ping may exit before the last copy's reply is in).
    let dup = PacketFault {
        duplicate: 1.0,
        ..PacketFault::default()
    };
    lab.start_delayer(&dup);
    lab.install(&dup);
    let (_, received, dups, _) = lab.ping(10, "0.05");
    assert_eq!(received, 10);
    assert!(dups >= 9, "only {dups} duplicates");
    let report = lab.stop_delayer();
    assert!(report.contains("10 duplicated"), "{report}");

    // Loss: the statistic rule alone, no delayer.
    lab.install(&PacketFault::loss(0.5));
    let (sent, received, _, _) = lab.ping(40, "0.02");
    let lost = sent - received;
    println!(
        "loss: {lost}/{sent} = {:.0}%",
        100.0 * f64::from(lost) / f64::from(sent)
    );
    assert!(lost > 0 && received > 0, "lost {lost} of {sent}");

    // Healing, twice: back to the baseline.
    lab.remove();
    lab.remove();
    let (sent, received, _, healed) = lab.ping(20, "0.05");
    assert_eq!(received, sent);
    assert!(
        healed < baseline + 5.0,
        "healed RTT {healed} ms vs {baseline} ms"
    );
    println!("RTT baseline {baseline:.3} ms, delayed {delayed:.3} ms, healed {healed:.3} ms");
}
