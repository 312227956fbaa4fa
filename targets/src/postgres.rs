//! postgres: see the real-databases issue.
