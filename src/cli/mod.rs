//! The command line: argument definitions, one file per subcommand, and the
//! mapping of every outcome to Jepsen's exit statuses.

mod args;
mod calibrate;
mod check;
mod check_target;
mod cleanup;
mod exit;
mod interrupt;
mod list;
pub mod log;
mod new_target;
mod observer;
mod probes;
mod report;
mod serve;
mod store;
mod targets_help;
mod test;
mod test_all;

pub use args::{command, Cli, Command};
pub use calibrate::calibrate;
pub use check::check;
pub use check_target::check_target;
pub use cleanup::cleanup;
pub use exit::{Failure, BAD_INPUT, INTERNAL};
pub use list::list;
pub use new_target::new_target;
pub use report::report;
pub use serve::serve;
pub use store::store;
pub use test::test;
pub use test_all::test_all;
