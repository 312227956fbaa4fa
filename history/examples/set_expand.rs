//! Writes a history with every set read whole: `set_expand IN OUT.jsonl`
//! (`faultline_history::set_delta::expand`). For tools that read set reads
//! whole (Jepsen's set-full checker, an older faultline).

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = &args[..] else {
        eprintln!("usage: set_expand IN OUT.jsonl");
        std::process::exit(2);
    };
    let h = match faultline_history::read_path(Path::new(input), None) {
        Ok(l) => l.history,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(254);
        }
    };
    let whole = match faultline_history::set_delta::expand(&h) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{input}:{}: {e}", h.line(e.pos));
            std::process::exit(254);
        }
    };
    let write = || -> std::io::Result<()> {
        let mut out = faultline_history::JsonlWriter::append(Path::new(output))?;
        for e in whole.events() {
            out.write(e)?;
        }
        out.finish()
    };
    if let Err(e) = write() {
        eprintln!("{output}: {e}");
        std::process::exit(1);
    }
}
