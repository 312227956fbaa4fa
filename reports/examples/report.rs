//! Writes `report.html` into each run directory given on the command line
//! (what `faultline report RUN_DIR` does), printing the time each took.

fn main() {
    let mut status = 0;
    for dir in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        match faultline_reports::write_report(std::path::Path::new(&dir)) {
            Ok(p) => {
                let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                println!("{}: {} bytes in {:.2?}", p.display(), size, t.elapsed());
            }
            Err(e) => {
                eprintln!("{e}");
                status = 1;
            }
        }
    }
    std::process::exit(status);
}
