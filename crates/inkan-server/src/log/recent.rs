//! What this node's log committed or read lately: entries and stored hashes, kept in memory so
//! that a receipt (an inclusion proof under a checkpoint, with its entry) and a checkpoint's
//! root need no store round trip for them.
//!
//! Entries and stored hashes never change once committed (the tables are append-only), so
//! whatever is kept here is what the store holds; what is not here is read from the store and
//! kept. Bounded: past [`MAX_ENTRIES`] entries or [`MAX_HASHES`] hashes, the older half (the
//! smaller indexes) is forgotten.
//!
//! Must never: hold anything not committed (the writer remembers a batch only after its
//! transaction committed), or grow without bound.

use inkan_log::Hash;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Most entries kept: receipts are asked for right after the append.
const MAX_ENTRIES: usize = 8_192;

/// Most stored hashes kept: the newest leaves' and subtrees', and the roots of the large
/// subtrees every proof goes through (re-read once after they are forgotten).
const MAX_HASHES: usize = 65_536;

#[derive(Debug, Default)]
pub(super) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, Vec<u8>>,
    hashes: BTreeMap<u64, Hash>,
}

impl Recent {
    /// Keeps a committed batch: its entries from log index `first_entry` on, its stored hashes
    /// from stored-hash index `first_hash` on.
    pub(super) fn committed(
        &self,
        first_entry: u64,
        entries: Vec<Vec<u8>>,
        first_hash: u64,
        hashes: &[Hash],
    ) {
        let mut inner = self.lock();
        inner.entries.extend((first_entry..).zip(entries));
        trim(&mut inner.entries, MAX_ENTRIES);
        inner
            .hashes
            .extend((first_hash..).zip(hashes.iter().copied()));
        trim(&mut inner.hashes, MAX_HASHES);
    }

    /// Keeps stored hashes read from the store.
    pub(super) fn read(&self, hashes: &HashMap<u64, Hash>) {
        let mut inner = self.lock();
        inner.hashes.extend(hashes.iter().map(|(i, h)| (*i, *h)));
        trim(&mut inner.hashes, MAX_HASHES);
    }

    /// The entry at `index`, if kept.
    pub(super) fn entry(&self, index: u64) -> Option<Vec<u8>> {
        self.lock().entries.get(&index).cloned()
    }

    /// The kept hashes among `wanted`, and the indexes not kept.
    pub(super) fn hashes(&self, wanted: &[u64]) -> (HashMap<u64, Hash>, Vec<u64>) {
        let inner = self.lock();
        let mut found = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for index in wanted {
            match inner.hashes.get(index) {
                Some(hash) => {
                    found.insert(*index, *hash);
                }
                None => missing.push(*index),
            }
        }
        (found, missing)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that only ever held committed values.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forgets the smaller half of `map` once it holds more than `max`.
fn trim<V>(map: &mut BTreeMap<u64, V>, max: usize) {
    if map.len() > max
        && let Some(middle) = map.keys().nth(map.len() / 2).copied()
    {
        *map = map.split_off(&middle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_was_committed_and_stays_bounded() {
        let recent = Recent::default();
        let hash = |i: u64| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&i.to_be_bytes());
            h
        };
        for batch in 0..100u64 {
            let first = batch * 1_000;
            let entries: Vec<Vec<u8>> = (first..first + 1_000)
                .map(|i| i.to_be_bytes().to_vec())
                .collect();
            let hashes: Vec<Hash> = (first..first + 1_000).map(hash).collect();
            recent.committed(first, entries, first, &hashes);
        }
        assert_eq!(recent.entry(99_999), Some(99_999u64.to_be_bytes().to_vec()));
        assert_eq!(recent.entry(0), None);
        let (found, missing) = recent.hashes(&[99_998, 3]);
        assert_eq!(found.get(&99_998), Some(&hash(99_998)));
        assert_eq!(missing, vec![3]);
        let inner = recent.lock();
        assert!(inner.entries.len() <= MAX_ENTRIES);
        assert!(inner.hashes.len() <= MAX_HASHES);
    }
}
