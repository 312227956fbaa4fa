//! Fixtures shared by the integration tests.
#![allow(dead_code)] // each test binary uses part of it

pub mod guest;
pub mod sshd;
