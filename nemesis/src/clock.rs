//! Clock skew: an LD_PRELOAD shim that shifts only the wall clock.
//!
//! (Being built: see the runner issue.)
