//! Counting in one-minute windows that every node shares (issue 20): failed authentication
//! attempts per source address (criteria 2.2.1(2)), OAuth2 authorization requests per source,
//! and a system client's signatures per key under its standing approval's rate (2.2.3(2)B-1).
//!
//! The windows are rows of the store (`Store::take_from_window`), taken from by one conditional
//! statement, so a client spread over three nodes gets its rate once, not three times. A
//! source's attempt is counted before its secrets are checked, and given back only when it
//! succeeds: a burst of concurrent guesses cannot all pass a check that they are under the
//! limit (each one takes its unit atomically). Once a source reaches the limit it is refused
//! until its window ends, whatever it sends. Must never admit anything when the count cannot be
//! taken (a store error refuses), or grow without bound (housekeeping purges ended windows).

use inkan_store::{Store, StoreError, UnixMillis, WindowTake};
use std::net::IpAddr;
use std::sync::Arc;

/// How a source address is counted: an IPv4 address (also when written as IPv4-mapped IPv6)
/// alone, an IPv6 address by its /64, which one site or subscriber line usually holds whole:
/// rotating through its addresses gains nothing.
fn source_key(source: IpAddr) -> String {
    match source {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Counts of one kind (`login`, `oauth`, `standing`), per key, in the store's shared windows.
#[derive(Debug, Clone)]
pub struct Limiter {
    store: Arc<dyn Store>,
    kind: &'static str,
    max_attempts: u32,
}

impl Limiter {
    /// Counts of `kind`, allowing `max_attempts` a minute to [`take_attempt`](Self::take_attempt).
    pub fn new(store: Arc<dyn Store>, kind: &'static str, max_attempts: u32) -> Self {
        Limiter {
            store,
            kind,
            max_attempts,
        }
    }

    fn slot(&self, key: &str) -> String {
        format!("{}:{key}", self.kind)
    }

    /// Takes `units` for `key` at `now` if that leaves at most `max` taken in its window; else
    /// `Ok(Err(seconds until the window ends))`, taking nothing.
    pub async fn try_take(
        &self,
        key: &str,
        now: UnixMillis,
        units: u32,
        max: u32,
    ) -> Result<Result<(), u64>, StoreError> {
        Ok(
            match self
                .store
                .take_from_window(&self.slot(key), now, units, max)
                .await?
            {
                WindowTake::Taken => Ok(()),
                WindowTake::Full { ends_at } => Err(((ends_at - now) / 1000).max(1).unsigned_abs()),
            },
        )
    }

    /// Counts an attempt from `source` at `now` if it is under its limit; else
    /// `Ok(Err(seconds until the window ends))`, counting nothing.
    pub async fn take_attempt(
        &self,
        source: IpAddr,
        now: UnixMillis,
    ) -> Result<Result<(), u64>, StoreError> {
        self.try_take(&source_key(source), now, 1, self.max_attempts)
            .await
    }

    /// Gives back an attempt [`take_attempt`](Self::take_attempt) counted (it succeeded): one
    /// less in the window open at `now`, none if it has ended since. A failure only costs the
    /// source one attempt of its minute, so it is logged, not returned.
    pub async fn give_back(&self, source: IpAddr, now: UnixMillis) {
        if let Err(e) = self
            .store
            .give_back_to_window(&self.slot(&source_key(source)), now)
            .await
        {
            tracing::warn!(kind = self.kind, error = %e, "an attempt could not be given back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_counted_by_ipv4_address_or_ipv6_slash_64() {
        let key = |s: &str| source_key(s.parse().unwrap());
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(
            key("::ffff:192.0.2.7"),
            "192.0.2.7",
            "one address, one count"
        );
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }
}
