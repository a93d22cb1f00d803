//! The key registry (in progress).
