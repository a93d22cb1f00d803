//! Per-source rate limit on failed authentication attempts (criteria 2.2.1(2)).
//!
//! Counts failures per source address in fixed one-minute windows; once a source reaches the
//! limit it is refused until its window ends, whatever it sends. Per node and in memory: the
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

/// Failure counts per source.
#[derive(Debug)]
pub struct SourceLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl SourceLimiter {
    /// A limiter allowing `max_failures` per source per minute.
    pub fn new(max_failures: u32) -> Self {
        SourceLimiter {
            max_failures,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` if `source` is over its limit at `now`.
    pub fn blocked(&self, source: IpAddr, now: i64) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(&source) {
            Some(&(start, count)) if now < start + WINDOW_MILLIS && count >= self.max_failures => {
                Some(((start + WINDOW_MILLIS - now) / 1000).max(1).unsigned_abs())
            }
            _ => None,
        }
    }

    /// Counts a failure from `source` at `now`.
    pub fn failed(&self, source: IpAddr, now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_SOURCES && !windows.contains_key(&source) {
            windows.retain(|_, (start, _)| now < *start + WINDOW_MILLIS);
            if windows.len() >= MAX_SOURCES
                && let Some(oldest) = windows.iter().min_by_key(|(_, w)| w.0).map(|(k, _)| *k)
            {
                windows.remove(&oldest);
            }
        }
        let window = windows.entry(source).or_insert((now, 0));
        if now >= window.0 + WINDOW_MILLIS {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
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
            assert_eq!(limiter.blocked(a, t), None);
            limiter.failed(a, t);
        }
        assert_eq!(limiter.blocked(a, 2000), Some(58));
        assert_eq!(
            limiter.blocked(b, 2000),
            None,
            "other sources are not affected"
        );
        assert_eq!(limiter.blocked(a, 60_000), None, "a new window starts");
    }
}
