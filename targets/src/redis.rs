//! redis: see the real-databases issue.
