//! `faultline test-all --junit FILE`: the matrix's verdicts as JUnit XML, one
//! case per cell; a cell that could not run is an `<error>`, not a pass.
//! Runs on the in-process `memory` target (no root needed).

use std::process::Command;

#[test]
fn test_all_writes_one_junit_case_per_cell() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test-all",
            "--target",
            "memory",
            "--workloads",
            "register,no-such-workload",
            "--nemeses",
            "none",
            "--time-limit",
            "1",
            "--seed",
            "1",
        ])
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("--junit")
        .arg(&xml_path)
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "worst verdict is unknown: {stderr}"
    );
    let xml = std::fs::read_to_string(&xml_path).expect("the JUnit file was written");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(
        xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"register / none\" classname=\"faultline\""),
        "{xml}"
    );
    assert!(
        xml.contains("<system-out>register / none: valid\n"),
        "{xml}"
    );
    assert!(
        xml.contains("<error message=\"not run: unknown workload &quot;no-such-workload&quot;"),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

#[test]
fn ctrl_c_stops_the_whole_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test-all",
            "--target",
            "memory",
            "--workloads",
            "register,set,counter",
            "--nemeses",
            "none",
            "--time-limit",
            "20",
            "--rate",
            "200",
        ])
        .arg("--store")
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let t = std::time::Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "the matrix ran on"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the remaining tests are not run"),
        "{stderr}"
    );
    // Only the first cell ran.
    let tests: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "latest")
        .collect();
    assert_eq!(tests, vec!["memory-register".to_string()]);
}
