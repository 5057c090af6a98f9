//! The letters of a case, in the applicant's language: each is written to the outbox in the
//! transaction of the step that causes it.

use crate::issuer::format_date;
use crate::mail::Letter;
use crate::store::{ApplicationRecord, CertificateRecord};

use super::LINK_HOURS;

fn pl(application: &ApplicationRecord) -> bool {
    application.lang != "en"
}

fn letter(application: &ApplicationRecord, kind: &str, subject: String, paragraphs: Vec<String>) -> Letter {
    Letter {
        kind: kind.to_owned(),
        to: application.email.clone(),
        to_name: None,
        subject,
        paragraphs,
        link: None,
        private_link: false,
        lang: application.lang.clone(),
    }
}

/// The sign-in link as a letter's call to action.
fn sign_in(mut letter: Letter, pl: bool, link: &str) -> Letter {
    letter.paragraphs.push(if pl {
        format!(
            "Sprawę można śledzić pod poniższym linkiem. Działa jeden raz, przez {LINK_HOURS} godziny; \
             nowy link można zamówić na stronie /case."
        )
    } else {
        format!(
            "Follow the case with the link below. It works once, for {LINK_HOURS} hours; a new one can be \
             requested on the /case page."
        )
    });
    letter.link = Some((if pl { "Otwórz sprawę" } else { "Open the case" }.to_owned(), link.to_owned()));
    letter.private_link = true;
    letter
}

pub fn received(application: &ApplicationRecord, entity: &str, link: &str) -> Letter {
    let pl = pl(application);
    let kind = super::Kind::parse(&application.kind).unwrap_or_default();
    let (subject, paragraphs) = if pl {
        (
            format!("Wniosek {} przyjęty — Zakup Prospołeczny", application.id),
            vec![
                "Dzień dobry,".to_owned(),
                format!(
                    "przyjęliśmy wniosek nr {} ({}) dotyczący podmiotu „{entity}”. Kapituła znaku \
                     rozpatrzy go i w razie potrzeby zada pytania; o decyzji napiszemy.",
                    application.id,
                    kind.label(true)
                ),
            ],
        )
    } else {
        (
            format!("Application {} received — Zakup Prospołeczny", application.id),
            vec![
                "Hello,".to_owned(),
                format!(
                    "we have received application {} ({}) for “{entity}”. The mark's board will review \
                     it and may ask questions; we will write with its decision.",
                    application.id,
                    kind.label(false)
                ),
            ],
        )
    };
    sign_in(letter(application, "application.received", subject, paragraphs), pl, link)
}

pub fn link(application_lang: &str, email: &str, link: &str) -> Letter {
    let pl = application_lang != "en";
    let (subject, text) = if pl {
        (
            "Link do Twoich spraw — Zakup Prospołeczny",
            "Dzień dobry, oto link do wniosków i certyfikatów tego adresu e-mail.",
        )
    } else {
        (
            "Your link to your cases — Zakup Prospołeczny",
            "Hello, here is the link to the applications and certificates of this e-mail address.",
        )
    };
    let letter = Letter {
        kind: "applicant.link".into(),
        to: email.to_owned(),
        subject: subject.into(),
        paragraphs: vec![text.into()],
        lang: if pl { "pl" } else { "en" }.into(),
        ..Letter::default()
    };
    sign_in(letter, pl, link)
}

pub fn question(application: &ApplicationRecord, question: &str, link: &str) -> Letter {
    let pl = pl(application);
    let (subject, intro) = if pl {
        (
            format!("Wniosek {}: prośba o uzupełnienie", application.id),
            "Kapituła znaku prosi o uzupełnienie wniosku. Pytanie:".to_owned(),
        )
    } else {
        (
            format!("Application {}: returned for completion", application.id),
            "The mark's board asks you to complete the application. Its question:".to_owned(),
        )
    };
    let closing = if pl {
        "Odpowiedź i brakujące pliki można dodać na stronie sprawy."
    } else {
        "Answer and add any missing files on the case's page."
    };
    let paragraphs = vec![intro, question.to_owned(), closing.to_owned()];
    sign_in(letter(application, "application.question", subject, paragraphs), pl, link)
}

pub fn approved(
    application: &ApplicationRecord,
    certificate: &CertificateRecord,
    verify_url: &str,
) -> Letter {
    let pl = pl(application);
    let from = format_date(certificate.valid_from);
    // Validity ends at the start of `valid_until`: the last day is the one before.
    let until = format_date(certificate.valid_until - 86_400);
    let (subject, paragraphs) = if pl {
        (
            format!("Wniosek {} rozpatrzony pozytywnie — certyfikat {}", application.id, certificate.number),
            vec![
                "Dzień dobry,".to_owned(),
                format!(
                    "Kapituła znaku rozpatrzyła wniosek nr {} pozytywnie. Certyfikat nr {} jest ważny \
                     od {from} do {until} włącznie.",
                    application.id, certificate.number
                ),
                "Osoba, której adres jest adresem kontaktowym podmiotu, znajdzie na stronie „Twoje sprawy” znak \
                 do pobrania, kod do wklejenia na stronę internetową i kod QR; każdy znajdzie je też na \
                 publicznej stronie podmiotu w rejestrze."
                    .to_owned(),
            ],
        )
    } else {
        (
            format!("Application {} approved — certificate {}", application.id, certificate.number),
            vec![
                "Hello,".to_owned(),
                format!(
                    "the mark's board has approved application {}. Certificate {} is valid from {from} \
                     to {until} inclusive.",
                    application.id, certificate.number
                ),
                "The entity's contact finds the badge kit (the snippet for your website and the QR code) on the \
                 “Your cases” page; anyone finds it on the entity's public page in the registry."
                    .to_owned(),
            ],
        )
    };
    let mut letter = letter(application, "application.approved", subject, paragraphs);
    letter.link = Some((
        if pl { "Sprawdź certyfikat" } else { "See the certificate" }.to_owned(),
        verify_url.to_owned(),
    ));
    letter
}

pub fn refused(application: &ApplicationRecord, reasons: &str, case_url: &str) -> Letter {
    let pl = pl(application);
    let (subject, paragraphs) = if pl {
        (
            format!("Wniosek {}: decyzja odmowna", application.id),
            vec![
                "Dzień dobry,".to_owned(),
                format!("Kapituła znaku nie przyznała znaku na wniosek nr {}. Uzasadnienie:", application.id),
                reasons.to_owned(),
            ],
        )
    } else {
        (
            format!("Application {}: refused", application.id),
            vec![
                "Hello,".to_owned(),
                format!(
                    "The mark's board did not grant the mark on application {}. Its reasons:",
                    application.id
                ),
                reasons.to_owned(),
            ],
        )
    };
    let mut letter = letter(application, "application.refused", subject, paragraphs);
    letter.link =
        Some((if pl { "Strona sprawy" } else { "The case's page" }.to_owned(), case_url.to_owned()));
    letter
}
