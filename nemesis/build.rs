//! Builds the clock-skew shim (`clockshim/shim.rs`) into
//! `$OUT_DIR/libfaultline_clock.so` with the same `rustc` cargo uses, so
//! `src/clock.rs` can embed it. Needs nothing beyond the Rust toolchain and its
//! linker (`cc`). On targets the shim does not support, an empty file is
//! written and `clock::install_shim` reports the shim as unsupported.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SHIM_SOURCE: &str = "clockshim/shim.rs";
const SHIM_FILE: &str = "libfaultline_clock.so";

fn main() {
    println!("cargo:rerun-if-changed={SHIM_SOURCE}");
    println!("cargo:rerun-if-changed=build.rs");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = out_dir.join(SHIM_FILE);
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "linux" || !matches!(arch.as_str(), "x86_64" | "aarch64") {
        println!(
            "cargo:warning=the clock-skew shim supports x86_64 and aarch64 Linux only \
             (target: {arch}-{os}); clock skew will be unavailable"
        );
        std::fs::write(&out, b"").expect("write the empty shim placeholder");
        return;
    }

    let source =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join(SHIM_SOURCE);
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args(["--crate-type", "cdylib", "--crate-name", "faultline_clock"])
        .args(["--edition", "2021"])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "debuginfo=0",
        ])
        .args(["-C", "strip=symbols"])
        .arg("-o")
        .arg(&out)
        .arg(&source);
    let target = env::var("TARGET").unwrap_or_default();
    if !target.is_empty() && env::var("HOST").ok().as_deref() != Some(target.as_str()) {
        cmd.args(["--target", &target]);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run rustc to build the clock shim: {e}"));
    if !output.status.success() {
        panic!(
            "building the clock shim ({SHIM_SOURCE}) failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
