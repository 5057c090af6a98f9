//! A stored letter as an e-mail: multipart/alternative with a plain-text part and a simple,
//! accessible HTML part (escaped text, `lang`, one link), UTF-8 throughout with encoded headers.

use std::time::{Duration, UNIX_EPOCH};

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::store::OutboxRecord;

/// Why a letter cannot be made into a message: it will never be sendable as stored.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the recipient {0:?} is not an e-mail address")]
    Recipient(String),
    #[error("the stored paragraphs are not a JSON list of text: {0}")]
    Paragraphs(String),
    #[error("the message cannot be built: {0}")]
    Build(String),
}

/// The paragraphs of a stored letter.
pub fn paragraphs(letter: &OutboxRecord) -> Result<Vec<String>, ComposeError> {
    serde_json::from_str(&letter.paragraphs).map_err(|err| ComposeError::Paragraphs(err.to_string()))
}

/// The plain-text part: paragraphs separated by blank lines, then the link on a line of its own.
pub fn text_part(paragraphs: &[String], link: Option<(&str, &str)>) -> String {
    let mut text = paragraphs.join("\n\n");
    if let Some((label, url)) = link {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(label);
        text.push_str(":\n");
        text.push_str(url);
    }
    text.push('\n');
    text
}

/// The HTML part: every paragraph escaped, its line breaks kept, the link as a button-like
/// anchor whose text is its label (so it reads well in a screen reader's list of links).
pub fn html_part(subject: &str, paragraphs: &[String], link: Option<(&str, &str)>, lang: &str) -> String {
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang=(if lang == "en" { "en" } else { "pl" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (subject) }
            }
            body style="margin:0;padding:0;background:#ffffff;color:#1b1b1b;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5" {
                div role="article" aria-label=(subject) style="max-width:40em;margin:0 auto;padding:16px" {
                    @for paragraph in paragraphs {
                        p style="margin:0 0 1em 0" {
                            @for (i, line) in paragraph.lines().enumerate() {
                                @if i > 0 { br; }
                                (line)
                            }
                        }
                    }
                    @if let Some((label, url)) = link {
                        p style="margin:1.5em 0" {
                            a href=(url) style="display:inline-block;padding:12px 20px;background:#0a4d8c;color:#ffffff;text-decoration:underline;border-radius:4px;font-weight:bold" {
                                (label)
                            }
                        }
                        p style="margin:0 0 1em 0;font-size:14px;color:#3b3b3b;word-break:break-all" { (url) }
                    }
                }
            }
        }
    };
    page.into_string()
}

/// The message of a stored letter, from `from`, dated when the letter was written and carrying
/// the Message-ID it was given then.
pub fn message(letter: &OutboxRecord, from: &Mailbox) -> Result<Message, ComposeError> {
    let address = letter.to_addr.parse().map_err(|_| ComposeError::Recipient(letter.to_addr.clone()))?;
    let to = Mailbox::new(letter.to_name.clone().filter(|name| !name.trim().is_empty()), address);
    let paragraphs = paragraphs(letter)?;
    let link = match (&letter.link_label, &letter.link_url) {
        (Some(label), Some(url)) => Some((label.as_str(), url.as_str())),
        _ => None,
    };
    let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(letter.created_at).unwrap_or(0));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(letter.subject.clone())
        .date(date)
        .message_id(Some(letter.message_id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            text_part(&paragraphs, link),
            html_part(&letter.subject, &paragraphs, link, &letter.lang),
        ))
        .map_err(|err| ComposeError::Build(err.to_string()))
}

/// The default sender: the mark's name at `no-reply@` the base URL's host.
pub fn default_from(base_url: &str) -> Result<Mailbox, ComposeError> {
    let host = super::host_of(base_url);
    let text = format!("Zakup Prospołeczny <no-reply@{host}>");
    text.parse().map_err(|_| ComposeError::Recipient(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> OutboxRecord {
        OutboxRecord {
            id: 7,
            kind: "reminder.30".into(),
            to_addr: "biuro@łąka.example.pl".replace('ł', "l").replace('ą', "a"),
            to_name: Some("Spółdzielnia Socjalna „Łąka”".into()),
            subject: "Certyfikat ZP/LU/2026/0001 wygasa za 30 dni — zażółć gęślą jaźń".into(),
            paragraphs: serde_json::to_string(&[
                "Dzień dobry,\nto przypomnienie.",
                "<b>Nie pogrubiaj</b> & nie łam: ZAŻÓŁĆ GĘŚLĄ JAŹŃ",
                "English: the certificate ends soon.",
            ])
            .unwrap(),
            link_label: Some("Złóż wniosek o odnowienie".into()),
            link_url: Some("https://zp.example.pl/apply?renew=ABCDEFGH&x=1".into()),
            private_link: 0,
            lang: "pl".into(),
            message_id: "<0123abcd@zp.example.pl>".into(),
            state: "pending".into(),
            attempts: 0,
            last_error: None,
            created_at: 1_780_000_000,
            due_at: 1_780_000_000,
            lease_until: None,
            sent_at: None,
            resent_from: None,
        }
    }

    fn from() -> Mailbox {
        default_from("https://zp.example.pl").unwrap()
    }

    #[test]
    fn headers_are_encoded_and_decode_to_the_letter() {
        let bytes = message(&letter(), &from()).unwrap().formatted();
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&bytes[..head_end]).unwrap();
        assert!(head.is_ascii(), "raw headers must be ASCII (RFC 2047 encoded):\n{head}");
        let parsed = mailparse::parse_mail(&bytes).unwrap();
        let header = |name: &str| parsed.headers.iter().find(|h| h.get_key_ref().eq_ignore_ascii_case(name));
        assert_eq!(header("Subject").unwrap().get_value(), letter().subject);
        assert_eq!(header("Message-ID").unwrap().get_value(), "<0123abcd@zp.example.pl>");
        let from = mailparse::addrparse_header(header("From").unwrap()).unwrap();
        let to = mailparse::addrparse_header(header("To").unwrap()).unwrap();
        match (&from[0], &to[0]) {
            (mailparse::MailAddr::Single(from), mailparse::MailAddr::Single(to)) => {
                assert_eq!(from.display_name.as_deref(), Some("Zakup Prospołeczny"));
                assert_eq!(from.addr, "no-reply@zp.example.pl");
                assert_eq!(to.display_name.as_deref(), Some("Spółdzielnia Socjalna „Łąka”"));
                assert_eq!(to.addr, "biuro@laka.example.pl");
            }
            other => panic!("single addresses expected: {other:?}"),
        }
        let date = mailparse::dateparse(&header("Date").unwrap().get_value()).unwrap();
        assert_eq!(date, 1_780_000_000, "dated when the letter was written");
    }

    #[test]
    fn both_parts_carry_the_text_with_diacritics_and_the_html_is_escaped() {
        let bytes = message(&letter(), &from()).unwrap().formatted();
        let parsed = mailparse::parse_mail(&bytes).unwrap();
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        assert_eq!(parsed.subparts.len(), 2);
        let (plain, html) = (&parsed.subparts[0], &parsed.subparts[1]);
        assert_eq!(plain.ctype.mimetype, "text/plain");
        assert_eq!(plain.ctype.charset.to_lowercase(), "utf-8");
        assert_eq!(html.ctype.mimetype, "text/html");
        let text = plain.get_body().unwrap().replace("\r\n", "\n");
        assert!(text.contains("Dzień dobry,\nto przypomnienie.\n\n"), "{text}");
        assert!(text.contains("<b>Nie pogrubiaj</b> & nie łam: ZAŻÓŁĆ GĘŚLĄ JAŹŃ"), "{text}");
        assert!(
            text.contains("Złóż wniosek o odnowienie:\nhttps://zp.example.pl/apply?renew=ABCDEFGH&x=1\n"),
            "{text}"
        );
        let page = html.get_body().unwrap().replace("\r\n", "\n");
        assert!(page.contains(r#"<html lang="pl">"#), "{page}");
        assert!(page.contains("&lt;b&gt;Nie pogrubiaj&lt;/b&gt; &amp; nie łam: ZAŻÓŁĆ GĘŚLĄ JAŹŃ"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("Dzień dobry,<br>to przypomnienie."), "{page}");
        assert!(
            page.contains(r#"href="https://zp.example.pl/apply?renew=ABCDEFGH&amp;x=1""#),
            "the link is an attribute, escaped: {page}"
        );
        assert!(page.contains(">Złóż wniosek o odnowienie</a>"), "{page}");
        // The body lines are transfer-encoded: nothing but ASCII goes over the wire.
        assert!(bytes.is_ascii());
    }

    #[test]
    fn a_letter_without_a_link_or_name_still_composes() {
        let mut plain = letter();
        plain.link_label = None;
        plain.link_url = None;
        plain.to_name = None;
        let bytes = message(&plain, &from()).unwrap().formatted();
        let parsed = mailparse::parse_mail(&bytes).unwrap();
        let text = parsed.subparts[0].get_body().unwrap().replace("\r\n", "\n");
        assert!(text.ends_with("English: the certificate ends soon.\n"), "{text}");
        assert!(!parsed.subparts[1].get_body().unwrap().contains("<a "));
    }

    #[test]
    fn a_bad_recipient_is_refused() {
        let mut bad = letter();
        bad.to_addr = "not an address".into();
        assert!(matches!(message(&bad, &from()), Err(ComposeError::Recipient(_))));
    }
}
