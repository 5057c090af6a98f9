//! Expiry reminders: 60, 30 and 7 days before an active certificate ends and on its last day,
//! one letter to its entity's contact address.
//!
//! Each reminder given is recorded (certificate, end of validity, threshold) in the transaction
//! that enqueues its letter, so a restart or another replica repeats none, and a renewal (a new
//! end) gets its own. A certificate first seen past several thresholds gets only the most urgent
//! one; the earlier ones are recorded as passed over.

use chrono::{DateTime, Datelike};

use super::{Letter, enqueue};
use crate::store::{ReminderCandidate, Store, StoreResult};

const DAY: i64 = 86_400;

/// Days before the end of validity, least urgent first.
pub const THRESHOLDS: [i64; 4] = [60, 30, 7, 0];

/// Certificates handled per transaction: the write lock is not held for a whole large scan.
const BATCH: usize = 50;

/// The most urgent threshold reached with `remaining` seconds of validity left (`valid_until`
/// is the first second after the last valid day, so 0 is reached on that last day).
pub fn reached(remaining: i64) -> Option<i64> {
    if remaining <= DAY {
        return Some(0);
    }
    THRESHOLDS.iter().rev().copied().find(|days| *days > 0 && remaining <= days * DAY)
}

/// The e-mail address in a free-text contact ("Jan Kowalski, jan@las.pl, tel. …"): the first
/// word that is one.
pub fn email_in(contact: &str) -> Option<String> {
    contact
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
        .map(|word| word.trim_matches(|c: char| matches!(c, '.' | ':' | '"' | '\'')))
        .filter(|word| word.contains('@'))
        .find_map(|word| word.parse::<lettre::Address>().ok())
        .map(|address| address.to_string())
}

/// Gives the reminders due at `now`; how many letters it enqueued.
pub async fn scan(store: &dyn Store, base_url: &str, now: i64) -> StoreResult<usize> {
    let candidates = store.reminder_candidates(now - DAY, now + THRESHOLDS[0] * DAY).await?;
    let due: Vec<(ReminderCandidate, i64)> = candidates
        .into_iter()
        .filter_map(|c| {
            let threshold = reached(c.valid_until - now)?;
            let done = c.done.is_some_and(|done| done <= threshold);
            (!done).then_some((c, threshold))
        })
        .collect();
    let mut letters = 0;
    for batch in due.chunks(BATCH) {
        let mut tx = store.begin().await?;
        for (c, threshold) in batch {
            // Read again under the write lock: another replica may have given it meanwhile.
            let recorded = tx.reminder_thresholds(&c.certificate_id, c.valid_until).await?;
            if recorded.iter().any(|done| done <= threshold) {
                continue;
            }
            let outbox_id = match c.contact.as_deref().and_then(email_in) {
                Some(to) => {
                    letters += 1;
                    Some(enqueue(&mut tx, &letter(c, *threshold, to, base_url), now).await?)
                }
                None => None,
            };
            tx.insert_reminder(&c.certificate_id, c.valid_until, *threshold, outbox_id, now).await?;
            for earlier in THRESHOLDS.iter().filter(|t| **t > *threshold && !recorded.contains(t)) {
                tx.insert_reminder(&c.certificate_id, c.valid_until, *earlier, None, now).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(letters)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day in Polish numeric form: 31.12.2026.
pub fn polish_date(unix: i64) -> String {
    let d = DateTime::from_timestamp(unix, 0).map(|at| at.date_naive()).unwrap_or_default();
    format!("{:02}.{:02}.{:04}", d.day(), d.month(), d.year())
}

/// A day in English: 31 December 2026.
pub fn english_date(unix: i64) -> String {
    let d = DateTime::from_timestamp(unix, 0).map(|at| at.date_naive()).unwrap_or_default();
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or_default();
    format!("{} {month} {}", d.day(), d.year())
}

/// The reminder of `threshold` days for a certificate, in Polish with an English paragraph.
pub fn letter(c: &ReminderCandidate, threshold: i64, to: String, base_url: &str) -> Letter {
    let from = c.valid_from;
    // The last valid day: `valid_until` is the first second after it.
    let last = c.valid_until - DAY;
    let (when_pl, when_en) = match threshold {
        0 => ("dziś".to_owned(), "today".to_owned()),
        days => (format!("za {days} dni"), format!("in {days} days")),
    };
    let subject = format!("Certyfikat {} wygasa {when_pl} / Certificate expires {when_en}", c.number);
    let paragraphs = vec![
        "Dzień dobry,".to_owned(),
        format!(
            "certyfikat znaku „Zakup Prospołeczny” nr {} dla: {} jest ważny od {} do {} (włącznie) i wygasa {}.",
            c.number,
            c.entity_name,
            polish_date(from),
            polish_date(last),
            when_pl
        ),
        "Aby znak był ważny bez przerwy, złóż wniosek o odnowienie przed końcem ważności.".to_owned(),
        format!(
            "English: the „Zakup Prospołeczny” certificate No. {} for {} is valid from {} to {} (inclusive) \
             and expires {}. To keep the mark without a break, apply for its renewal before it ends.",
            c.number,
            c.entity_name,
            english_date(from),
            english_date(last),
            when_en
        ),
    ];
    Letter {
        kind: format!("reminder.{threshold}"),
        to,
        to_name: Some(c.entity_name.clone()),
        subject,
        paragraphs,
        link: Some((
            "Złóż wniosek o odnowienie / Apply for renewal".to_owned(),
            format!("{base_url}/apply?renew={}", c.certificate_id),
        )),
        private_link: false,
        lang: "pl".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_reached() {
        assert_eq!(reached(61 * DAY), None);
        assert_eq!(reached(60 * DAY + 1), None);
        assert_eq!(reached(60 * DAY), Some(60));
        assert_eq!(reached(31 * DAY), Some(60));
        assert_eq!(reached(30 * DAY), Some(30));
        assert_eq!(reached(8 * DAY), Some(30));
        assert_eq!(reached(5 * DAY), Some(7));
        assert_eq!(reached(DAY + 1), Some(7));
        assert_eq!(reached(DAY), Some(0));
        assert_eq!(reached(1), Some(0));
    }

    #[test]
    fn addresses_in_free_text_contacts() {
        assert_eq!(email_in("biuro@las.pl").as_deref(), Some("biuro@las.pl"));
        assert_eq!(email_in("Jan Kowalski, jan@las.pl, tel. 81 123").as_deref(), Some("jan@las.pl"));
        assert_eq!(email_in("Anna <anna@las.pl>").as_deref(), Some("anna@las.pl"));
        assert_eq!(email_in("e-mail: anna@las.pl.").as_deref(), Some("anna@las.pl"));
        assert_eq!(email_in("tel. 81 123 45 67"), None);
        assert_eq!(email_in("@las"), None);
    }

    #[test]
    fn dates_in_both_languages() {
        // 2026-12-31T00:00:00Z
        assert_eq!(polish_date(1_798_675_200), "31.12.2026");
        assert_eq!(english_date(1_798_675_200), "31 December 2026");
        assert_eq!(polish_date(1_767_225_600), "01.01.2026");
    }

    #[test]
    fn the_letter_names_the_certificate_its_dates_and_the_renewal_link() {
        let c = ReminderCandidate {
            certificate_id: "7K3QX9M2".into(),
            number: "ZP/LU/2026/0001".into(),
            valid_from: 1_767_225_600,
            valid_until: 1_798_761_600,
            entity_name: "Spółdzielnia Socjalna „Łąka”".into(),
            contact: None,
            done: None,
        };
        let l = letter(&c, 30, "biuro@laka.pl".into(), "https://zp.example.pl");
        assert_eq!(l.kind, "reminder.30");
        assert!(l.subject.contains("ZP/LU/2026/0001 wygasa za 30 dni"), "{}", l.subject);
        let text = l.paragraphs.join("\n");
        assert!(text.contains("od 01.01.2026 do 31.12.2026"), "{text}");
        assert!(text.contains("from 1 January 2026 to 31 December 2026"), "{text}");
        assert_eq!(l.link.unwrap().1, "https://zp.example.pl/apply?renew=7K3QX9M2");
        assert!(letter(&c, 0, "x@y.pl".into(), "https://z").subject.contains("wygasa dziś"));
    }
}
