//! The report's lost-write section: counts by fault window and acknowledging
//! node, a plot against the faults, the itemised rows folded; only what the
//! history shows (an `info` add is never "acknowledged"), and final reads
//! named as such.

use faultline_checkers::{checker, workload, CheckOptions, Results};
use faultline_history::{read_from, Format, History};
use faultline_reports::{render_report, ReportInput};

/// One line per event: (time in ms, process, type, f, value, node).
fn history(events: &[(i64, &str, &str, &str, &str, &str)]) -> History {
    let mut s = String::new();
    for (i, (t, p, ty, f, v, node)) in events.iter().enumerate() {
        let node = if node.is_empty() {
            String::new()
        } else {
            format!(",\"node\":\"{node}\"")
        };
        s.push_str(&format!(
            "{{\"index\":{i},\"time\":{},\"type\":\"{ty}\",\"process\":{p},\"f\":\"{f}\",\"value\":{v}{node}}}\n",
            t * 1_000_000
        ));
    }
    read_from(s.as_bytes(), "h.jsonl", "jsonl", Some(Format::Jsonl))
        .unwrap()
        .history
}

/// A partition from 1.0 s to 2.0 s; elements 1 (acknowledged by n1 before
/// it), 2 and 3 (by n2 and n1 during it) are lost, 4 survives, and 5's add
/// never got an answer but a read saw it before it vanished.
fn run() -> (History, Results) {
    let h = history(&[
        (400, "0", "invoke", "add", "1", ""),
        (500, "0", "ok", "add", "1", "n1"),
        (
            1000,
            "\"nemesis\"",
            "info",
            "start-partition",
            "\"n1 n2 | n3\"",
            "",
        ),
        (1100, "1", "invoke", "add", "2", ""),
        (1200, "1", "ok", "add", "2", "n2"),
        (1300, "4", "invoke", "add", "5", ""),
        (1400, "2", "invoke", "add", "3", ""),
        (1450, "4", "info", "add", "5", ""),
        (1500, "2", "ok", "add", "3", "n1"),
        (1600, "5", "invoke", "read", "null", ""),
        (1700, "5", "ok", "read", "[1,2,3,5]", "n1"),
        (2000, "\"nemesis\"", "info", "stop-partition", "null", ""),
        (2400, "3", "invoke", "add", "4", ""),
        (2500, "3", "ok", "add", "4", "n3"),
        (3000, "1000000000", "invoke", "read", "null", ""),
        (3100, "1000000000", "ok", "read", "[4]", "n3"),
    ]);
    let set = checker("set", workload("set").unwrap(), &CheckOptions::default()).unwrap();
    let v = set.check(&h).unwrap();
    (h, Results::combine([("set".to_owned(), v)]))
}

#[test]
fn lost_writes_lead_with_counts_by_fault_window_and_node() {
    let (h, r) = run();
    let set = &r.checkers["set"];
    assert_eq!(set.details["lost_count"], 4, "{:#?}", set.anomalies);
    let html = render_report(&ReportInput::new(h, r));
    let section = &html[html.find("id=\"kind-lost-write\"").unwrap()..];
    let section = &section[..section.find("</details>").unwrap()];
    // The counts in words: acknowledged ones apart from the unanswered one.
    assert!(
        section.contains("<b>3</b> acknowledged writes are missing. They were acknowledged between <b>500.0 ms</b> and <b>1.50 s</b>, by nodes <b>n1 (2), n2 (1)</b>."),
        "{section}"
    );
    assert!(
        section.contains("<b>1</b> more lost writes were never acknowledged: each was seen by a read, then missing"),
        "{section}"
    );
    // The table: one row per window, one column per acknowledging node.
    let table = &section[section.find("lost-groups").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(
        table.contains("<th>acknowledged by n1</th><th>acknowledged by n2</th><th>never acknowledged</th><th>total</th>"),
        "{table}"
    );
    assert!(
        table.contains("<tr><td>no fault in force; before partition began at 1.00 s</td><td class=\"num\">1</td><td class=\"num\"></td><td class=\"num\"></td><td class=\"num\"><b>1</b></td></tr>"),
        "{table}"
    );
    assert!(
        table.contains("<tr><td>during partition 1.00 s – 2.00 s</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\"><b>3</b></td></tr>"),
        "{table}"
    );
    // The plot: the fault window shaded, one mark per lost write here.
    let plot = &section[section.find("<svg class=\"lost-plot\"").unwrap()..];
    let plot = &plot[..plot.find("</svg>").unwrap()];
    assert_eq!(plot.matches("class=\"fault\"").count(), 1, "{plot}");
    assert_eq!(plot.matches("class=\"lost-mark\"").count(), 4, "{plot}");
    assert!(plot.contains(">by n1 (2)</text>") && plot.contains(">no answer (1)</text>"));
    // Then the rows, folded; the unanswered add is not called acknowledged.
    assert!(section.contains("<details class=\"more lost-list\"><summary>the 4 lost writes the checker itemised</summary>"));
    assert!(
        section.contains("<td>info at 1.45 s</td><td><b>— (not acknowledged)</b></td>"),
        "{section}"
    );
    assert!(section.contains("element 5 was seen by a read at 1.70 s, then missing; its add (process 4, invoked at 1.30 s) never got an answer"));
}

#[test]
fn final_reads_are_named_not_numbered_anywhere_in_the_report() {
    let (h, r) = run();
    let html = render_report(&ReportInput::new(h, r));
    assert!(
        !html.contains("process 1000000000"),
        "a final read shown by number"
    );
    assert!(
        !html.contains("p1000000000"),
        "a final read shown by number"
    );
    assert!(html.contains("the last read (final read 1 from n3, invoked at 3.00 s) lacks it"));
    // The op's description in #ops and the timeline row label.
    assert!(html.contains("final read 1 read"), "#ops description");
}

#[test]
fn the_terminal_summary_names_final_reads_and_unanswered_adds() {
    let (_, r) = run();
    let s = faultline_reports::summary(&r, "h.jsonl");
    assert!(!s.contains("process 1000000000"), "{s}");
    assert!(
        s.contains("(final read 1 from n3, invoked at 3.00 s)"),
        "{s}"
    );
    assert!(
        s.contains("4 lost (1 of them never acknowledged: seen by a read, then missing)"),
        "{s}"
    );
    assert!(s.contains("0 recovered"), "lost is not also recovered: {s}");
}

#[test]
fn hostile_nodes_and_fault_names_stay_text_in_the_lost_write_summary() {
    const EVIL: &str = "<script>alert(1)</script>";
    let node = serde_json::Value::from(EVIL).to_string();
    let f = serde_json::Value::from(format!("start-{EVIL}")).to_string();
    let lines = format!(
        "{{\"index\":0,\"time\":100000000,\"type\":\"info\",\"process\":\"nemesis\",\"f\":{f},\"value\":null}}\n\
         {{\"index\":1,\"time\":200000000,\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}}\n\
         {{\"index\":2,\"time\":300000000,\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1,\"node\":{node}}}\n\
         {{\"index\":3,\"time\":400000000,\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"value\":null}}\n\
         {{\"index\":4,\"time\":500000000,\"type\":\"ok\",\"process\":1,\"f\":\"read\",\"value\":[],\"node\":{node}}}\n"
    );
    let h = read_from(lines.as_bytes(), "h.jsonl", "jsonl", Some(Format::Jsonl))
        .unwrap()
        .history;
    let set = checker("set", workload("set").unwrap(), &CheckOptions::default()).unwrap();
    let r = Results::combine([("set".to_owned(), set.check(&h).unwrap())]);
    assert_eq!(r.anomaly_types, ["lost-write"]);
    let html = render_report(&ReportInput::new(h, r));
    assert!(html.contains("class=\"lost-plot\""));
    assert!(!html.contains("<script>alert"), "raw value on the page");
    assert!(html.contains("acknowledged by &lt;script&gt;alert(1)&lt;/script&gt;"));
}
