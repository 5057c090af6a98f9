//! The sending worker: takes due letters from the outbox, one at a time at the configured rate,
//! and hands each to the SMTP server.
//!
//! A letter is claimed before it is sent (a lease: a conditional update that only one worker of
//! all replicas can win), and marked sent as soon as the SMTP server has accepted it, so in normal
//! operation no letter goes twice. A worker that dies between the server's acceptance and the
//! mark leaves the lease to expire and the letter is sent again with the same Message-ID, which
//! lets the receiving side recognise the copy. A failed attempt is retried later, waiting twice as
//! long each time (capped at an hour); a letter the server refuses permanently (5xx) or that
//! fails [`MAX_ATTEMPTS`] times is given up (`failed`), and the panel can send it again.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Outbox, compose};
use crate::clock::{self, Clock};
use crate::store::{OutboxRecord, Store, StoreResult};

/// Attempts after which a letter is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// Seconds a claim lasts: longer than an attempt can take ([`SMTP_TIMEOUT`] per command).
pub const LEASE: i64 = 120;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: i64 = 3_600;
/// Timeout of each SMTP command.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the worker looks for due letters when nothing wakes it.
pub const POLL: Duration = Duration::from_secs(3);

/// How letters leave: `zp serve --smtp-url`, `--mail-from`, `--mail-rate`.
#[derive(Clone)]
pub struct Sender {
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    /// Letters per minute at most.
    pub per_minute: u32,
    /// Seconds before the first retry; each further one waits twice as long.
    pub retry_after: i64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("from", &self.from.to_string())
            .field("per_minute", &self.per_minute)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("the SMTP URL must be smtp://HOST:PORT (STARTTLS with ?tls=required) or smtps://HOST:PORT: {0}")]
    Invalid(String),
}

/// The transport of an `smtp://` or `smtps://` URL, with the user and password given apart (from
/// the environment, so they stay out of process listings).
pub fn transport(
    url: &str,
    user: Option<String>,
    password: Option<String>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpUrlError> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(SmtpUrlError::Invalid(url.to_owned()));
    }
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|err| SmtpUrlError::Invalid(err.to_string()))?
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = user {
        let credentials =
            lettre::transport::smtp::authentication::Credentials::new(user, password.unwrap_or_default());
        builder = builder.credentials(credentials);
    }
    Ok(builder.build())
}

/// Seconds to wait after the `attempts`-th failed attempt: `first`, doubling, at most an hour.
pub fn backoff(first: i64, attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    first.max(1).saturating_mul(1_i64 << doublings).min(MAX_BACKOFF)
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Another worker had it, or it was no longer due.
    Skipped,
    Retry {
        error: String,
        due_at: i64,
    },
    Failed {
        error: String,
    },
}

/// Sends due letters for ever: spawned by `zp serve` when an SMTP URL is given.
pub async fn run(store: Arc<dyn Store>, clock: Clock, outbox: Outbox, sender: Sender) {
    let spacing = Duration::from_millis(60_000 / u64::from(sender.per_minute.max(1)));
    let mut next_slot = clock::tokio_instant();
    loop {
        let due = match store.due_letters(clock.now(), 100).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = %err, "reading the outbox failed");
                Vec::new()
            }
        };
        if due.is_empty() {
            tokio::select! {
                () = outbox.woken() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            continue;
        }
        for id in due {
            // Letters leave evenly spaced, never in a burst, whatever number is due at once.
            tokio::time::sleep_until(next_slot).await;
            let started = next_slot.max(clock::tokio_instant());
            match attempt(store.as_ref(), &clock, &sender, id).await {
                Ok(Outcome::Skipped) => continue,
                Ok(outcome) => log(id, &outcome),
                Err(err) => tracing::warn!(letter = id, error = %err, "recording a letter's attempt failed"),
            }
            next_slot = started + spacing;
        }
    }
}

fn log(id: i64, outcome: &Outcome) {
    match outcome {
        Outcome::Sent => tracing::info!(letter = id, "letter sent"),
        Outcome::Skipped => {}
        Outcome::Retry { error, due_at } => {
            tracing::warn!(letter = id, %error, retry_at = due_at, "letter not sent; will retry")
        }
        Outcome::Failed { error } => tracing::warn!(letter = id, %error, "letter given up"),
    }
}

/// Claims one letter and tries to send it, recording the outcome.
pub async fn attempt(store: &dyn Store, clock: &Clock, sender: &Sender, id: i64) -> StoreResult<Outcome> {
    let now = clock.now();
    if !store.claim_letter(id, now, now + LEASE).await? {
        return Ok(Outcome::Skipped);
    }
    let Some(letter) = store.letter(id).await? else {
        return Ok(Outcome::Skipped);
    };
    let outcome = deliver(&letter, sender, clock.now()).await;
    match &outcome {
        Outcome::Sent => {
            store.mark_sent(id, clock.now()).await?;
        }
        Outcome::Retry { error, due_at } => store.mark_retry(id, error, *due_at).await?,
        Outcome::Failed { error } => store.mark_failed(id, error, clock.now()).await?,
        Outcome::Skipped => {}
    }
    Ok(outcome)
}

/// Hands a letter to the SMTP server; what to record follows from its answer.
async fn deliver(letter: &OutboxRecord, sender: &Sender, now: i64) -> Outcome {
    let message = match compose::message(letter, &sender.from) {
        Ok(message) => message,
        Err(err) => return Outcome::Failed { error: err.to_string() },
    };
    match sender.transport.send(message).await {
        Ok(_) => Outcome::Sent,
        Err(err) => {
            let error = short(&err.to_string());
            let attempts = letter.attempts + 1;
            if err.is_permanent() || attempts >= MAX_ATTEMPTS {
                Outcome::Failed { error }
            } else {
                Outcome::Retry { error, due_at: now + backoff(sender.retry_after, attempts) }
            }
        }
    }
}

/// An error message fit for the outbox's `last_error`.
fn short(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_an_hour() {
        let waits: Vec<i64> = (1..=10).map(|n| backoff(30, n)).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(1, 1), 1);
        assert_eq!(backoff(1, 64), 3600);
    }

    #[test]
    fn smtp_urls() {
        assert!(transport("smtp://127.0.0.1:2525", None, None).is_ok());
        assert!(transport("smtps://mail.example.pl:465", Some("zp".into()), Some("x".into())).is_ok());
        assert!(transport("smtp://mail.example.pl:587?tls=required", None, None).is_ok());
        assert!(transport("http://mail.example.pl", None, None).is_err());
        assert!(transport("mail.example.pl:25", None, None).is_err());
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let long = "ż".repeat(600);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), 501);
        assert!(cut.ends_with('…'));
    }
}
