//! Schema migrations (to be written by the store implementation).
