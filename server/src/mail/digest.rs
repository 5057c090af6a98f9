//! The staff's weekly digest: once per ISO week, a letter to every enabled staff or admin account
//! with the certificates ending soon, the reminders sent and the letters that failed.
//!
//! What the letter says is assembled by [`paragraphs`] from a [`Digest`] of counts and lines, so
//! another area can add its own lines (a [`DigestSection`]) without touching this one: the caller
//! of [`weekly`] passes them in.

use chrono::{DateTime, Datelike};

use super::reminders::polish_date;
use super::{FAILED, Letter, SENT, enqueue};
use crate::store::{CertState, SearchQuery, Store, StoreResult};

const DAY: i64 = 86_400;
/// The `meta` key of the last ISO week a digest went out for.
pub const META_WEEK: &str = "mail.digest_week";
/// Certificates listed per section; the rest are counted.
const LISTED: u32 = 50;

/// Lines another area adds to the digest: a heading in Polish and English, and its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestSection {
    pub title: String,
    pub lines: Vec<String>,
}

/// What one week's digest reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    /// The ISO week, `2026-W21`.
    pub week: String,
    /// Certificates ending within 30 days: how many, and a line for each listed.
    pub ending_30: (i64, Vec<String>),
    /// Certificates ending in 31 to 60 days.
    pub ending_60: (i64, Vec<String>),
    /// Reminders written in the last seven days, and how many of them were sent.
    pub reminders: (i64, i64),
    /// Letters given up, all told.
    pub failed: i64,
    /// Sections other areas add.
    pub sections: Vec<DigestSection>,
}

/// The ISO week of a moment, `2026-W21`.
pub fn iso_week(unix: i64) -> String {
    let date = DateTime::from_timestamp(unix, 0).map(|at| at.date_naive()).unwrap_or_default();
    let week = date.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The digest's paragraphs: Polish, with an English summary at the end.
pub fn paragraphs(d: &Digest) -> Vec<String> {
    let mut out = vec![format!("Podsumowanie tygodnia {} w rejestrze znaku „Zakup Prospołeczny”.", d.week)];
    let section = |title: String, (count, lines): &(i64, Vec<String>)| {
        let mut text = format!("{title}: {count}");
        for line in lines {
            text.push_str("\n– ");
            text.push_str(line);
        }
        if *count > lines.len() as i64 {
            text.push_str(&format!("\n– … i {} więcej", *count - lines.len() as i64));
        }
        text
    };
    out.push(section("Certyfikaty wygasające w ciągu 30 dni".into(), &d.ending_30));
    out.push(section("Certyfikaty wygasające za 31–60 dni".into(), &d.ending_60));
    out.push(format!(
        "Przypomnienia o wygasaniu w ostatnim tygodniu: {} (wysłane: {}).",
        d.reminders.0, d.reminders.1
    ));
    out.push(format!("Wiadomości, których nie udało się wysłać: {}.", d.failed));
    for extra in &d.sections {
        let mut text = extra.title.clone();
        for line in &extra.lines {
            text.push_str("\n– ");
            text.push_str(line);
        }
        out.push(text);
    }
    out.push(format!(
        "English: week {}: {} certificates end within 30 days, {} in 31 to 60 days; {} expiry reminders \
         in the last week ({} sent); {} letters failed.",
        d.week, d.ending_30.0, d.ending_60.0, d.reminders.0, d.reminders.1, d.failed
    ));
    out
}

/// Counts and lists what the digest reports at `now`.
pub async fn gather(store: &dyn Store, now: i64) -> StoreResult<Digest> {
    let ending = |from: i64, to: i64| SearchQuery {
        ending: Some((from, to)),
        state: Some(CertState::Active),
        limit: LISTED,
        ..SearchQuery::default()
    };
    let mut lists = Vec::new();
    for (from, to) in [(now, now + 30 * DAY), (now + 30 * DAY, now + 60 * DAY)] {
        let mut found = store.search(&ending(from, to)).await?;
        // Soonest first; the search gives the latest first.
        found.reverse();
        let lines: Vec<String> = found
            .iter()
            .map(|c| {
                format!(
                    "{} — {} — do {}",
                    c.certificate.number,
                    c.entity.name,
                    polish_date(c.certificate.valid_until - DAY)
                )
            })
            .collect();
        let count = if lines.len() < LISTED as usize {
            lines.len() as i64
        } else {
            count_ending(store, from, to).await?
        };
        lists.push((count, lines));
    }
    let ending_60 = lists.pop().unwrap_or_default();
    let ending_30 = lists.pop().unwrap_or_default();
    let mut reminders = (0, 0);
    for (kind, state, count) in store.letters_since(now - 7 * DAY).await? {
        if kind.starts_with("reminder.") {
            reminders.0 += count;
            if state == SENT {
                reminders.1 += count;
            }
        }
    }
    let failed =
        store.letter_counts().await?.into_iter().find(|(state, _)| state == FAILED).map_or(0, |(_, n)| n);
    Ok(Digest { week: iso_week(now), ending_30, ending_60, reminders, failed, sections: Vec::new() })
}

/// Every active certificate ending in `[from, to)`, counted page by page.
async fn count_ending(store: &dyn Store, from: i64, to: i64) -> StoreResult<i64> {
    let mut count = 0;
    let mut offset = 0;
    loop {
        let page = store
            .search(&SearchQuery {
                ending: Some((from, to)),
                state: Some(CertState::Active),
                limit: 500,
                offset,
                ..SearchQuery::default()
            })
            .await?;
        count += page.len() as i64;
        if page.len() < 500 {
            return Ok(count);
        }
        offset += 500;
    }
}

/// Sends this week's digest unless it went out already (on this or another replica): one letter
/// per enabled staff or admin account, with `extra` sections added. How many letters it wrote.
pub async fn weekly(
    store: &dyn Store,
    panel_url: &str,
    now: i64,
    extra: Vec<DigestSection>,
) -> StoreResult<usize> {
    let week = iso_week(now);
    if store.meta(META_WEEK).await?.as_deref() == Some(week.as_str()) {
        return Ok(0);
    }
    let mut digest = gather(store, now).await?;
    digest.sections = extra;
    let recipients: Vec<_> = store
        .accounts()
        .await?
        .into_iter()
        .filter(|a| a.disabled_at.is_none() && matches!(a.role.as_str(), "staff" | "admin"))
        .collect();
    let mut tx = store.begin().await?;
    // Checked again under the write lock: one digest per week, whoever gets there first.
    if tx.read_meta(META_WEEK).await?.as_deref() == Some(week.as_str()) {
        return Ok(0);
    }
    let paragraphs = paragraphs(&digest);
    for account in &recipients {
        let letter = Letter {
            kind: "digest".into(),
            to: account.email.clone(),
            to_name: Some(account.name.clone()).filter(|name| !name.is_empty()),
            subject: format!("Zakup Prospołeczny: podsumowanie tygodnia {week} / weekly digest"),
            paragraphs: paragraphs.clone(),
            link: Some(("Otwórz panel / Open the panel".into(), format!("{panel_url}/panel"))),
            private_link: false,
            lang: "pl".into(),
        };
        enqueue(&mut tx, &letter, now).await?;
    }
    tx.set_meta(META_WEEK, &week).await?;
    tx.commit().await?;
    Ok(recipients.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        // 2026-01-01 is a Thursday: week 1 of 2026. 2027-01-01 is a Friday: week 53 of 2026.
        assert_eq!(iso_week(1_767_225_600), "2026-W01");
        assert_eq!(iso_week(1_798_761_600), "2026-W53");
    }

    #[test]
    fn digest_text_has_counts_lines_and_added_sections() {
        let digest = Digest {
            week: "2026-W21".into(),
            ending_30: (3, vec!["ZP/LU/2026/0001 — Łąka — do 31.05.2026".into()]),
            ending_60: (0, Vec::new()),
            reminders: (4, 3),
            failed: 1,
            sections: vec![DigestSection {
                title: "Wnioski czekające / Applications waiting: 2".into(),
                lines: vec!["złożone: 2".into()],
            }],
        };
        let text = paragraphs(&digest).join("\n\n");
        assert!(
            text.contains("w ciągu 30 dni: 3\n– ZP/LU/2026/0001 — Łąka — do 31.05.2026\n– … i 2 więcej"),
            "{text}"
        );
        assert!(text.contains("za 31–60 dni: 0"), "{text}");
        assert!(text.contains("w ostatnim tygodniu: 4 (wysłane: 3)"), "{text}");
        assert!(text.contains("nie udało się wysłać: 1"), "{text}");
        assert!(text.contains("Applications waiting: 2\n– złożone: 2"), "{text}");
        assert!(text.contains("English: week 2026-W21: 3 certificates end within 30 days"), "{text}");
    }
}
