//! The badge's words in Polish and English: a headline per state and a sentence for screen
//! readers, from the one table every page shares (`zp_shared::words`), and an icon that does not
//! rely on colour.

use zp_shared::words::{Bilingual, Shown};

use crate::state::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Pl,
    En,
}

impl Lang {
    /// `lang` attribute: `en` (any case, with or without region) is English; anything else Polish.
    pub fn parse(attribute: Option<&str>) -> Self {
        match attribute.map(|a| a.trim().to_ascii_lowercase()) {
            Some(a) if a == "en" || a.starts_with("en-") => Lang::En,
            _ => Lang::Pl,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }
}

/// The mark's name, the same in both languages.
pub const MARK: &str = "Zakup Prospołeczny";

#[derive(Debug)]
pub struct Wording {
    /// A character for the state (the icon's `data-icon`).
    pub icon: &'static str,
    /// The state's glyph: the path of its SVG icon, drawn on a 20×20 grid.
    pub glyph: &'static str,
    pub headline: &'static str,
    pub detail: &'static str,
}

// The glyphs, shared by states that look alike.
const CROSS: &str = "M6 6l8 8M14 6l-8 8";
/// A clock: a circle of radius 5.5 around (10, 10), as two arcs, and its hands.
const CLOCK: &str = "M4.5 10a5.5 5.5 0 1 0 11 0a5.5 5.5 0 1 0-11 0zM10 7v3.3l2.2 1.5";
/// A question mark over a person's outline would not read at 20 px: the unrecognised issuer
/// has the same question mark.
const QUESTION: &str = "M7.6 7.6a2.5 2.5 0 1 1 3.4 2.3c-.7.3-1 .8-1 1.5v.4M10 14.2v.3";

pub fn wording(verdict: &Verdict, lang: Lang) -> Wording {
    // Each verdict's words are taken from the shared table at compile time, so that the badge
    // carries only the texts it can show (not those of the image badge and the registry).
    let (icon, glyph, [headline, detail]) = match verdict {
        Verdict::Checking => ("…", "M6 10h.01M10 10h.01M14 10h.01", const { words(Shown::Checking) }),
        Verdict::Verified(_) => ("✓", "M5 10.5l3.2 3.2L15 7", const { words(Shown::Valid) }),
        Verdict::Expired(_) => ("⌛", CLOCK, const { words(Shown::Expired) }),
        Verdict::NotYetValid(_) => ("⏱", CLOCK, const { words(Shown::NotYetValid) }),
        Verdict::Revoked(_) => ("✕", CROSS, const { words(Shown::Revoked) }),
        Verdict::Suspended(_) => ("⏸", "M8 6v8M12 6v8", const { words(Shown::Suspended) }),
        Verdict::WrongSite(_) => ("⚠", "M10 5.5v5.5M10 14.2v.3", const { words(Shown::WrongSite) }),
        Verdict::Invalid(_) => ("✕", CROSS, const { words(Shown::Invalid) }),
        Verdict::CannotConfirm(_) => ("?", QUESTION, const { words(Shown::CannotConfirm) }),
        Verdict::Unrecognised(_) => ("?", QUESTION, const { words(Shown::Unrecognised) }),
    };
    match lang {
        Lang::Pl => Wording { icon, glyph, headline: headline.pl, detail: detail.pl },
        Lang::En => Wording { icon, glyph, headline: headline.en, detail: detail.en },
    }
}

/// The headline and the sentence of `shown`.
const fn words(shown: Shown) -> [Bilingual; 2] {
    [shown.headline(), shown.detail()]
}

/// The accessible name of the badge: the mark, the verdict and whose it is.
pub fn accessible_name(verdict: &Verdict, lang: Lang) -> String {
    let words = wording(verdict, lang);
    let open = match lang {
        Lang::Pl => "otwórz stronę weryfikacji",
        Lang::En => "open the verification page",
    };
    match verdict.claims() {
        Some(claims) if matches!(verdict, Verdict::Verified(_)) => {
            let through = match lang {
                Lang::Pl => format!("Ważny do {} (włącznie).", last_day(claims.exp)),
                Lang::En => format!("Valid through {}.", last_day(claims.exp)),
            };
            format!(
                "{MARK}: {} — {}. {} {through} ({open})",
                words.headline, claims.zp.entity.name, words.detail
            )
        }
        Some(claims) => {
            format!("{MARK}: {} — {}. {} ({open})", words.headline, claims.zp.entity.name, words.detail)
        }
        None => format!("{MARK}: {}. {} ({open})", words.headline, words.detail),
    }
}

/// The last day a mark ending at `exp` is valid (UTC), `YYYY-MM-DD`: validity years end at the
/// midnight that starts the day after, as the issuer's pages count them.
pub fn last_day(exp: i64) -> String {
    let (year, month, day) = civil_date(exp.saturating_sub(1).div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`): the badge needs no calendar library for one date.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::last_day;

    #[test]
    fn last_day_of_a_validity_year() {
        // 2027-12-01T00:00:00Z ends a year that included 2027-11-30.
        assert_eq!(last_day(1_827_619_200), "2027-11-30");
        assert_eq!(last_day(951_868_800), "2000-02-29");
        assert_eq!(last_day(86_400), "1970-01-01");
        assert_eq!(last_day(1_704_067_200), "2023-12-31");
    }
}
