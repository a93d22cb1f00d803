//! The processed JSON-LD active contexts of documents' top-level `@context` values, kept across
//! calls and threads.
//!
//! Processing a context (loading the bundled documents it names, parsing them, defining every
//! term) was most of what canonicalising a credential cost, and it gives the same result every
//! time for the same `@context`: contexts come only from the bundled files, and [`super::canon`]
//! always processes them the same way (no base IRI, JSON-LD 1.1, default options). So the
//! result is kept here, keyed by the `@context` value serialised as JSON (compared in full, not
//! only by its hash).
//!
//! Must never: keep a key longer than [`MAX_KEY_BYTES`] (an inline context larger than that is
//! processed every time instead), hold more than [`MAX_ENTRIES`] contexts (the map is emptied
//! when full, so callers cannot grow it without bound), keep a context whose processing failed,
//! or be fed a context processed with other options or another base IRI than the one key
//! implies.

use iref::IriBuf;
use rdf_types::BlankIdBuf;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// A processed active context.
pub(super) type ActiveContext = json_ld::Context<IriBuf, BlankIdBuf>;

/// The longest `@context` (serialised as JSON) that is kept: a list of bundled URLs is far
/// shorter; an inline context larger than this is processed every time.
pub const MAX_KEY_BYTES: usize = 4 * 1024;

/// The most contexts kept; the map is emptied when it is full.
pub const MAX_ENTRIES: usize = 64;

fn cache() -> &'static Mutex<HashMap<String, ActiveContext>> {
    static CACHE: OnceLock<Mutex<HashMap<String, ActiveContext>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The key of a `@context` value, or `None` when it is too large to be kept.
pub(super) fn key(context: &serde_json::Value) -> Option<String> {
    let key = serde_json::to_string(context).ok()?;
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// A copy of the context kept under `key`.
pub(super) fn get(key: &str) -> Option<ActiveContext> {
    // A panic elsewhere while the lock was held leaves complete entries only (insertions and
    // clears are single map operations), so a poisoned lock is still usable.
    cache()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .cloned()
}

/// Keeps `context` under `key` (which [`key`] made), emptying the map first when it is full.
pub(super) fn insert(key: String, context: &ActiveContext) {
    if key.len() > MAX_KEY_BYTES {
        return;
    }
    let mut map = cache().lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, context.clone());
}

/// How many contexts are kept (for tests).
pub fn len() -> usize {
    cache().lock().unwrap_or_else(PoisonError::into_inner).len()
}

/// Forgets every kept context (for tests: the next call is a cold one).
pub fn clear() {
    cache()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
