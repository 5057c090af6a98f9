//! The server's only reads of the clocks. Everything else takes the time from here (wall-clock
//! seconds for tokens, lists and the registry; monotonic instants for timeouts and throttles), so
//! a test or a demonstration can move "now" (`--clock-offset`), and `clippy.toml` refuses
//! `SystemTime::now` and `Instant::now` anywhere else in the server.
#![allow(clippy::disallowed_methods)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where "now" comes from: the system clock, or a fixed offset from it for demonstrations and
/// tests of expiry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    pub offset: i64,
}

impl Clock {
    /// Seconds since the Unix epoch, moved by the offset.
    pub fn now(&self) -> i64 {
        unix_now().saturating_add(self.offset)
    }

    /// Returns once this clock has reached `at` (a key's first second, which an emergency rotation
    /// in the same second as the last one puts a second ahead).
    pub async fn wait_until(&self, at: i64) {
        while self.now() < at {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Seconds since the Unix epoch by the system clock, with no offset: for what records when it
/// happened rather than judges validity (a backup's file times, say).
pub fn unix_now() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The monotonic clock, for durations: throttles, request times.
pub fn instant() -> Instant {
    Instant::now()
}

/// The monotonic clock as tokio's timers read it (paused and advanced by tests of timeouts).
pub fn tokio_instant() -> tokio::time::Instant {
    tokio::time::Instant::now()
}
