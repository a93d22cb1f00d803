//! What a node keeps in memory of keys and status sources for signing, and the cache epoch it
//! is good for (issue 17).
//!
//! The store moves its cache epoch with every change of a key, its certificates or its status
//! source, by trigger (`inkan_store::Store::cache_epoch`). A value read from the store is tagged
//! with the epoch read just before it, so a tag is never newer than its value. An
//! [`EpochCache`] answers only with values tagged with the newest epoch this node has seen
//! ([`Epoch::observe`]: every log batch and every such read reports one). Whoever signs with a
//! cached value hands its tag to the signing module, which compares it with the epoch of the
//! log batch that committed the request's write-ahead entry and reads the store again when they
//! differ: a change committed before that batch is always seen before the device signs.
//!
//! Must never: answer with a value tagged older than the newest epoch seen, or serve a path
//! that does not confirm the tag at its write-ahead batch (key and status APIs read the store).

use inkan_store::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The newest cache epoch this node has seen.
#[derive(Debug, Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    /// Notes an epoch read from the store.
    pub fn observe(&self, epoch: u64) {
        self.0.fetch_max(epoch, Ordering::AcqRel);
    }

    /// The newest epoch seen.
    pub fn newest(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// The store's epoch now, noted: read it *before* the value it will tag, so that a tag is
    /// never newer than its value.
    pub async fn read(&self, store: &dyn inkan_store::Store) -> Result<u64, StoreError> {
        let epoch = store.cache_epoch().await?;
        self.observe(epoch);
        Ok(epoch)
    }
}

/// Values by id, each with the epoch it was read at; at most [`EpochCache::CAPACITY`] of them
/// (emptied when full: a miss costs one read).
#[derive(Debug)]
pub struct EpochCache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
}

impl<V> Default for EpochCache<V> {
    fn default() -> Self {
        EpochCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> EpochCache<V> {
    /// The most values kept.
    pub const CAPACITY: usize = 4096;

    /// The value of `id` and its tag, if it was read at the newest epoch `epoch` has seen.
    pub fn get(&self, id: &str, epoch: &Epoch) -> Option<(V, u64)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (tag, value) = entries.get(id)?;
        (*tag == epoch.newest()).then(|| (value.clone(), *tag))
    }

    /// Keeps `value` of `id`, read at epoch `tag` (read before the value).
    pub fn put(&self, id: &str, tag: u64, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY && !entries.contains_key(id) {
            entries.clear();
        }
        entries.insert(id.to_owned(), (tag, value));
    }
}

#[cfg(test)]
mod tests {
    use super::{Epoch, EpochCache};

    #[test]
    fn answers_only_at_the_newest_epoch() {
        let epoch = Epoch::default();
        let cache = EpochCache::default();
        epoch.observe(3);
        cache.put("key_a", 3, "a");
        assert_eq!(cache.get("key_a", &epoch), Some(("a", 3)));
        assert_eq!(cache.get("key_b", &epoch), None);
        // A batch saw a newer epoch: the value is not answered any more.
        epoch.observe(4);
        assert_eq!(cache.get("key_a", &epoch), None);
        // Epochs never go back here.
        epoch.observe(2);
        assert_eq!(epoch.newest(), 4);
        cache.put("key_a", 4, "a2");
        assert_eq!(cache.get("key_a", &epoch), Some(("a2", 4)));
    }

    #[test]
    fn stays_bounded() {
        let epoch = Epoch::default();
        let cache = EpochCache::default();
        for i in 0..=EpochCache::<u8>::CAPACITY {
            cache.put(&format!("key_{i}"), 0, 1u8);
        }
        let entries = cache.entries.lock().unwrap().len();
        assert!(entries <= EpochCache::<u8>::CAPACITY, "{entries}");
        assert_eq!(
            cache.get(&format!("key_{}", EpochCache::<u8>::CAPACITY), &epoch),
            Some((1, 0))
        );
    }
}
