//! Failed admin authentications, counted per client address (IPv6 by /64, as the rate limit
//! counts): after `zp serve --admin-auth-failures` (10) failures within a minute the address must
//! wait a second before its next attempt, and from then on every failure doubles the wait, up to a
//! quarter of an hour. An hour without a failure, or a successful authentication, starts the
//! address afresh.
//!
//! Each attempt counts as a failure from the start, and a success takes it back: attempts sent
//! all at once are counted before any of them is answered, so they cannot slip past the limit
//! together.
//!
//! A waiting address is answered 429 before its key is looked at, even when the key is right.
//! Checking the key first would let the right key through, but a guesser would then learn the
//! verdict on every guess as before, at full speed, and the throttle would slow nothing down: the
//! 429 would only replace the 401. So a real user shares the wait only with a guesser on the same
//! address (the same NAT, or a reverse proxy, where the limit belongs to the proxy); a valid key
//! from any other address is never held up.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Failures are counted in windows of this length.
const WINDOW: Duration = Duration::from_secs(60);
/// The first wait; each later one is twice the one before.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// After this long without a failure an address starts afresh; longer than the longest wait, so
/// that sitting one out does not.
const QUIET: Duration = Duration::from_secs(60 * 60);

/// The throttle of one server; clones share it.
#[derive(Debug, Clone, Default)]
pub struct AdminThrottle(Option<Arc<Inner>>);

#[derive(Debug)]
struct Inner {
    limit: u32,
    clients: Mutex<HashMap<IpAddr, Record>>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    window_start: Instant,
    /// Failures since `window_start`.
    failures: u32,
    /// Waits imposed so far: the next one lasts `FIRST_WAIT * 2^waits`.
    waits: u32,
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

impl AdminThrottle {
    /// At most `failures_per_minute` failures per address before it waits; 0 turns it off.
    pub fn per_minute(failures_per_minute: u32) -> Self {
        AdminThrottle(
            (failures_per_minute > 0)
                .then(|| Arc::new(Inner { limit: failures_per_minute, clients: Mutex::default() })),
        )
    }

    /// No throttle (tests that drive the router in-process).
    pub fn disabled() -> Self {
        AdminThrottle(None)
    }

    fn clients(&self) -> Option<MutexGuard<'_, HashMap<IpAddr, Record>>> {
        let inner = self.0.as_ref()?;
        Some(inner.clients.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// An authentication attempt from `client`: the whole seconds it must still wait, if it must
    /// (then the attempt is refused and not counted); otherwise the attempt counts as a failure
    /// until [`succeeded`](Self::succeeded) takes it back.
    pub fn attempt(&self, client: IpAddr, now: Instant) -> Option<u64> {
        if let Some(wait) = self.wait(client, now) {
            return Some(wait);
        }
        self.failed(client, now);
        None
    }

    /// Whole seconds `client` must still wait before its next attempt, if it must.
    fn wait(&self, client: IpAddr, now: Instant) -> Option<u64> {
        let clients = self.clients()?;
        let until = clients.get(&client)?.blocked_until?;
        let left = until.checked_duration_since(now).filter(|left| !left.is_zero())?;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    fn failed(&self, client: IpAddr, now: Instant) {
        let Some(limit) = self.0.as_ref().map(|inner| inner.limit) else { return };
        let Some(mut clients) = self.clients() else { return };
        let record = clients.entry(client).or_insert(Record {
            window_start: now,
            failures: 0,
            waits: 0,
            blocked_until: None,
            last_failure: now,
        });
        if now.duration_since(record.last_failure) >= QUIET {
            record.waits = 0;
        }
        if now.duration_since(record.window_start) >= WINDOW {
            record.window_start = now;
            record.failures = 0;
        }
        record.failures += 1;
        record.last_failure = now;
        if record.failures >= limit || record.waits > 0 {
            let wait = FIRST_WAIT.saturating_mul(1 << record.waits.min(20)).min(MAX_WAIT);
            record.blocked_until = Some(now + wait);
            record.waits += 1;
        }
    }

    /// A successful authentication from `client`: its failures are forgotten.
    pub fn succeeded(&self, client: IpAddr) {
        if let Some(mut clients) = self.clients() {
            clients.remove(&client);
        }
    }

    /// Forgets addresses that are not waiting and have not failed for a while, so that the table
    /// stays small; called now and then.
    pub fn forget_quiet(&self, now: Instant) {
        if let Some(mut clients) = self.clients() {
            clients.retain(|_, record| {
                now.duration_since(record.last_failure) < QUIET
                    || record.blocked_until.is_some_and(|until| until > now)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn waits_start_after_the_limit_and_double_up_to_the_cap() {
        let throttle = AdminThrottle::per_minute(3);
        let start = crate::clock::instant();
        for _ in 0..3 {
            assert_eq!(throttle.attempt(ip(1), start), None);
        }
        assert_eq!(throttle.attempt(ip(1), start), Some(1), "after three failures in a minute");
        assert_eq!(throttle.attempt(ip(1), start), Some(1), "a refused attempt does not count");
        assert_eq!(throttle.attempt(ip(2), start), None, "other addresses are unaffected");
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..14 {
            now += Duration::from_secs(throttle.wait(ip(1), now).unwrap());
            assert_eq!(throttle.attempt(ip(1), now), None, "the wait is over");
            waits.push(throttle.wait(ip(1), now).unwrap());
        }
        assert_eq!(waits[..5], [2, 4, 8, 16, 32]);
        assert_eq!(*waits.last().unwrap(), 900, "at most a quarter of an hour: {waits:?}");
    }

    #[test]
    fn success_and_quiet_start_afresh() {
        let throttle = AdminThrottle::per_minute(2);
        let start = crate::clock::instant();
        assert_eq!(throttle.attempt(ip(1), start), None);
        assert_eq!(throttle.attempt(ip(1), start), None);
        throttle.succeeded(ip(1));
        assert_eq!(throttle.attempt(ip(1), start), None, "the failures before the success are forgotten");
        assert_eq!(throttle.attempt(ip(1), start), None);
        assert_eq!(throttle.attempt(ip(1), start), Some(1));

        // Once waiting, every failure waits longer, in later windows too, until a quiet spell.
        let later = start + WINDOW;
        assert_eq!(throttle.attempt(ip(1), later), None);
        assert_eq!(throttle.attempt(ip(1), later), Some(2));
        let quiet = later + QUIET;
        assert_eq!(throttle.attempt(ip(1), quiet), None);
        assert_eq!(throttle.attempt(ip(1), quiet), None);
        assert_eq!(throttle.attempt(ip(1), quiet), Some(1));

        throttle.forget_quiet(quiet);
        assert!(throttle.clients().unwrap().contains_key(&ip(1)), "still waiting");
        throttle.forget_quiet(quiet + QUIET);
        assert!(throttle.clients().unwrap().is_empty());
    }

    #[test]
    fn zero_turns_it_off() {
        let throttle = AdminThrottle::per_minute(0);
        let now = crate::clock::instant();
        for _ in 0..100 {
            assert_eq!(throttle.attempt(ip(1), now), None);
        }
    }
}
