//! The verdict's words in Polish and English: one table for every place that states a verdict
//! (the script badge, the verification page, the embed and the SVG badge), so a shopper reads the
//! same words wherever the mark is checked. Plain data: no I/O, nothing that reads a clock.

/// A text in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bilingual {
    pub pl: &'static str,
    pub en: &'static str,
}

/// What a check of the mark can end in, as people are told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The check is still running.
    Checking,
    /// Genuine, current and not revoked or suspended.
    Valid,
    Expired,
    NotYetValid,
    Suspended,
    Revoked,
    /// A genuine mark on a website its certificate does not cover.
    WrongSite,
    /// Not a genuine mark: a bad signature or a damaged token.
    Invalid,
    /// The current status could not be fetched.
    CannotConfirm,
    /// A token of an issuer the page does not recognise.
    Unrecognised,
    /// An image badge, which cannot tell where it is shown: the issuer's page must say.
    CheckAtIssuer,
    /// The registry has no such certificate.
    NotInRegistry,
}

const fn both(pl: &'static str, en: &'static str) -> Bilingual {
    Bilingual { pl, en }
}

impl Shown {
    /// The headline: the verdict in two or three words.
    pub const fn headline(self) -> Bilingual {
        match self {
            Shown::Checking => both("Sprawdzanie znaku…", "Checking the mark…"),
            Shown::Valid => both("Znak ważny", "Mark verified"),
            Shown::Expired => both("Certyfikat wygasł", "Certificate expired"),
            Shown::NotYetValid => both("Certyfikat jeszcze nieważny", "Certificate not yet valid"),
            Shown::Suspended => both("Certyfikat zawieszony", "Certificate suspended"),
            Shown::Revoked => both("Certyfikat cofnięty", "Certificate revoked"),
            Shown::WrongSite => both("Znak nieważny na tej stronie", "Not valid on this site"),
            Shown::Invalid => both("Znak nieprawidłowy", "Invalid mark"),
            Shown::CannotConfirm => both("Nie można teraz potwierdzić", "Cannot confirm now"),
            Shown::Unrecognised => both("Wystawca nierozpoznany", "Issuer not recognised"),
            Shown::CheckAtIssuer => both("Sprawdź u wystawcy", "Check at the issuer"),
            Shown::NotInRegistry => both("Certyfikatu nie ma w rejestrze", "Certificate not in the registry"),
        }
    }

    /// One sentence that says what the headline means.
    pub const fn detail(self) -> Bilingual {
        match self {
            Shown::Checking => both("Trwa weryfikacja certyfikatu.", "Verifying the certificate."),
            Shown::Valid => both(
                "Certyfikat jest autentyczny, aktualny i nie został cofnięty.",
                "The certificate is genuine, current and not revoked.",
            ),
            Shown::Expired => both("Okres ważności znaku minął.", "The mark's validity period has ended."),
            Shown::NotYetValid => both(
                "Okres ważności znaku jeszcze się nie rozpoczął.",
                "The mark's validity period has not started yet.",
            ),
            Shown::Suspended => {
                both("Wydawca zawiesił ten certyfikat.", "The issuer has suspended this certificate.")
            }
            Shown::Revoked => {
                both("Wydawca cofnął ten certyfikat.", "The issuer has revoked this certificate.")
            }
            Shown::WrongSite => both(
                "Ten certyfikat nie obejmuje tej witryny; znak mógł zostać skopiowany.",
                "This certificate does not cover this website; the mark may have been copied.",
            ),
            Shown::Invalid => both(
                "Podpis certyfikatu jest błędny lub certyfikat jest uszkodzony.",
                "The certificate's signature is wrong or the certificate is damaged.",
            ),
            Shown::CannotConfirm => both(
                "Nie udało się sprawdzić aktualnego statusu certyfikatu.",
                "The certificate's current status could not be checked.",
            ),
            Shown::Unrecognised => both(
                "Znak wydał wystawca, którego ta strona nie zna; sprawdź go na stronie weryfikacji wystawcy.",
                "The mark names an issuer this page does not recognise; check it on the issuer's verification page.",
            ),
            Shown::CheckAtIssuer => both(
                "Obrazek nie wie, gdzie jest pokazany; strona wystawcy to sprawdzi.",
                "An image cannot tell where it is shown; the issuer's page checks it.",
            ),
            Shown::NotInRegistry => both("Znak może być podrobiony.", "The mark may be forged."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Shown; 12] = [
        Shown::Checking,
        Shown::Valid,
        Shown::Expired,
        Shown::NotYetValid,
        Shown::Suspended,
        Shown::Revoked,
        Shown::WrongSite,
        Shown::Invalid,
        Shown::CannotConfirm,
        Shown::Unrecognised,
        Shown::CheckAtIssuer,
        Shown::NotInRegistry,
    ];

    #[test]
    fn every_verdict_has_its_own_words_in_both_languages() {
        for (i, a) in ALL.iter().enumerate() {
            for text in [a.headline().pl, a.headline().en, a.detail().pl, a.detail().en] {
                assert!(!text.trim().is_empty(), "{a:?}");
            }
            for b in &ALL[i + 1..] {
                assert_ne!(a.headline().pl, b.headline().pl, "{a:?} and {b:?}");
                assert_ne!(a.headline().en, b.headline().en, "{a:?} and {b:?}");
            }
        }
    }
}
