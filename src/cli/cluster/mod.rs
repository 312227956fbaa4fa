//! Building the system under test for `faultline test`: the in-process
//! target, the reference store, real databases, or the `process` target —
//! on local network namespaces or SSH hosts — and tearing it all down on
//! every exit path.

mod database;
mod handle;
mod nodes;
mod plan;
mod process;
mod refkv;

pub use database::{db_of, manifest_of};
pub use handle::Cluster;
pub use plan::{check, setup, Plan, TARGETS};
