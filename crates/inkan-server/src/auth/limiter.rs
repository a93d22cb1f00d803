//! Counting in fixed one-minute windows, per node and in memory: failed authentication
//! attempts per source address (criteria 2.2.1(2)), and a system client's signatures per key
//! under its standing approval's rate (2.2.3(2)B-1).
//!
//! A source's attempt is counted before its secrets are checked, and given back only when it
//! succeeds: a burst of concurrent guesses cannot all pass a check that they are under the
//! limit (each one takes its unit atomically). Once a source reaches the limit it is refused
//! until its window ends, whatever it sends. The
//! per-account lockout (in the store) is what holds across nodes; this one blunts password
//! spraying across many accounts from one place. Must never grow without bound: the table is
//! pruned of ended windows, and capped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Window length, milliseconds.
const WINDOW_MILLIS: i64 = 60_000;
/// Most sources tracked at once; past it, ended windows are dropped, then the oldest.
const MAX_SOURCES: usize = 100_000;

/// Failure counts per source address.
pub type SourceLimiter = Limiter<IpAddr>;

/// Counts per key in one-minute windows.
#[derive(Debug)]
pub struct Limiter<K> {
    max_failures: u32,
    windows: Mutex<HashMap<K, (i64, u32)>>,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    /// A limiter allowing `max_failures` per key per minute (for [`blocked`](Self::blocked)).
    pub fn new(max_failures: u32) -> Self {
        Limiter {
            max_failures,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `units` for `key` at `now` if that leaves at most `max` taken in its window; else
    /// `Err(seconds until the window ends)`, taking nothing.
    pub fn try_take(&self, key: &K, now: i64, units: u32, max: u32) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        Self::make_room(&mut windows, key, now);
        let window = windows.entry(key.clone()).or_insert((now, 0));
        if now >= window.0 + WINDOW_MILLIS {
            *window = (now, 0);
        }
        if window.1.saturating_add(units) > max {
            return Err(((window.0 + WINDOW_MILLIS - now) / 1000)
                .max(1)
                .unsigned_abs());
        }
        window.1 += units;
        Ok(())
    }

    fn make_room(windows: &mut HashMap<K, (i64, u32)>, key: &K, now: i64) {
        if windows.len() >= MAX_SOURCES && !windows.contains_key(key) {
            windows.retain(|_, (start, _)| now < *start + WINDOW_MILLIS);
            if windows.len() >= MAX_SOURCES
                && let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.0)
                    .map(|(k, _)| k.clone())
            {
                windows.remove(&oldest);
            }
        }
    }

    /// Counts an attempt from `key` at `now` if it is under its limit (`max_failures` in the
    /// window); else `Err(seconds until the window ends)`, counting nothing.
    pub fn take_attempt(&self, key: &K, now: i64) -> Result<(), u64> {
        self.try_take(key, now, 1, self.max_failures)
    }

    /// Gives back an attempt [`take_attempt`](Self::take_attempt) counted at `now` (it
    /// succeeded): one less in the current window, none if the window has ended since.
    pub fn give_back(&self, key: &K, now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = windows.get_mut(key)
            && now < window.0 + WINDOW_MILLIS
        {
            window.1 = window.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_blocked_for_the_rest_of_its_window_only() {
        let limiter = SourceLimiter::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for t in [0, 1000, 2000] {
            assert_eq!(limiter.take_attempt(&a, t), Ok(()));
        }
        assert_eq!(limiter.take_attempt(&a, 2000), Err(58));
        assert_eq!(
            limiter.take_attempt(&b, 2000),
            Ok(()),
            "other sources are not affected"
        );
        assert_eq!(limiter.take_attempt(&a, 60_000), Ok(()), "a new window");
    }

    #[test]
    fn a_success_gives_its_attempt_back_in_its_window_only() {
        let limiter = SourceLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.take_attempt(&a, 0).unwrap();
        limiter.take_attempt(&a, 10).unwrap();
        limiter.give_back(&a, 20);
        assert_eq!(limiter.take_attempt(&a, 30), Ok(()));
        assert_eq!(limiter.take_attempt(&a, 40), Err(59));
        // A window that has ended gives nothing back to the next one.
        limiter.take_attempt(&a, 60_000).unwrap();
        limiter.give_back(&a, 130_000);
        limiter.take_attempt(&a, 60_001).unwrap();
        assert!(limiter.take_attempt(&a, 60_002).is_err());
    }

    #[test]
    fn try_take_stops_at_the_maximum_and_takes_nothing_then() {
        let limiter: Limiter<&str> = Limiter::new(0);
        assert_eq!(limiter.try_take(&"k", 0, 1, 3), Ok(()));
        assert_eq!(
            limiter.try_take(&"k", 1000, 3, 3),
            Err(59),
            "a batch over the rest"
        );
        assert_eq!(limiter.try_take(&"k", 1000, 2, 3), Ok(()));
        assert_eq!(limiter.try_take(&"k", 2000, 1, 3), Err(58));
        assert_eq!(limiter.try_take(&"other", 2000, 1, 3), Ok(()));
        assert_eq!(limiter.try_take(&"k", 60_000, 3, 3), Ok(()), "a new window");
    }
}
