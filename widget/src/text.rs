//! The badge's words in Polish and English: a headline per state, an icon that does not rely
//! on colour, and a sentence for screen readers.

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
    pub icon: &'static str,
    pub headline: &'static str,
    pub detail: &'static str,
}

pub fn wording(verdict: &Verdict, lang: Lang) -> Wording {
    let (icon, pl, en, pl_detail, en_detail) = match verdict {
        Verdict::Checking => (
            "…",
            "Sprawdzanie znaku…",
            "Checking the mark…",
            "Trwa weryfikacja certyfikatu.",
            "Verifying the certificate.",
        ),
        Verdict::Verified(_) => (
            "✓",
            "Znak ważny",
            "Mark verified",
            "Certyfikat jest autentyczny, aktualny i nie został cofnięty.",
            "The certificate is genuine, current and not revoked.",
        ),
        Verdict::Expired(_) => (
            "⌛",
            "Certyfikat wygasł",
            "Certificate expired",
            "Okres ważności znaku minął.",
            "The mark's validity period has ended.",
        ),
        Verdict::NotYetValid(_) => (
            "⏱",
            "Certyfikat jeszcze nieważny",
            "Certificate not yet valid",
            "Okres ważności znaku jeszcze się nie rozpoczął.",
            "The mark's validity period has not started yet.",
        ),
        Verdict::Revoked(_) => (
            "✕",
            "Certyfikat cofnięty",
            "Certificate revoked",
            "Wydawca cofnął ten certyfikat.",
            "The issuer has revoked this certificate.",
        ),
        Verdict::Suspended(_) => (
            "⏸",
            "Certyfikat zawieszony",
            "Certificate suspended",
            "Wydawca zawiesił ten certyfikat.",
            "The issuer has suspended this certificate.",
        ),
        Verdict::WrongSite(_) => (
            "⚠",
            "Znak nieważny na tej stronie",
            "Not valid on this site",
            "Ten certyfikat nie obejmuje tej witryny; znak mógł zostać skopiowany.",
            "This certificate does not cover this website; the mark may have been copied.",
        ),
        Verdict::Invalid(_) => (
            "✕",
            "Znak nieprawidłowy",
            "Invalid mark",
            "Podpis certyfikatu jest błędny lub certyfikat jest uszkodzony.",
            "The certificate's signature is wrong or the certificate is damaged.",
        ),
        Verdict::CannotConfirm(_) => (
            "?",
            "Nie można teraz potwierdzić",
            "Cannot confirm now",
            "Nie udało się sprawdzić aktualnego statusu certyfikatu.",
            "The certificate's current status could not be checked.",
        ),
    };
    match lang {
        Lang::Pl => Wording { icon, headline: pl, detail: pl_detail },
        Lang::En => Wording { icon, headline: en, detail: en_detail },
    }
}

/// The accessible name of the badge: the mark, the verdict and whose it is.
pub fn accessible_name(verdict: &Verdict, lang: Lang) -> String {
    let words = wording(verdict, lang);
    let open = match lang {
        Lang::Pl => "otwórz stronę weryfikacji",
        Lang::En => "open the verification page",
    };
    match verdict.claims() {
        Some(claims) => {
            format!("{MARK}: {} — {}. {} ({open})", words.headline, claims.zp.entity.name, words.detail)
        }
        None => format!("{MARK}: {}. {} ({open})", words.headline, words.detail),
    }
}
