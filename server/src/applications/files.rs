//! Attachments of a case: PDF, JPEG or PNG, judged by what the file holds rather than by its
//! name or the type the browser claims, within size and count limits. They are kept in the
//! database beside the case, so a case and its files commit together, travel in backups and
//! `zp migrate`, and no directory of them is ever within a web server's reach.

use sha2::{Digest, Sha256};

use super::form::FieldError;

/// The largest file, in bytes.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Files in one submission (the application, or one answer).
pub const PER_SUBMISSION: usize = 5;
/// Files in one case, all submissions together.
pub const PER_CASE: i64 = 20;
/// The longest file name kept.
const NAME_MAX: usize = 120;

/// A file as it arrived.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Bytes that arrived beyond [`MAX_BYTES`] and were not kept (the form's reader stops keeping
    /// a file at its limit, but counts the rest to say how large it was).
    pub dropped: usize,
}

/// A file that passed: its type from its content, a name safe to show and to offer for download.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub name: String,
    pub media_type: &'static str,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// The type a file's content shows, if it is one of those taken.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") && pdf_ends(bytes) {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        Some("image/png")
    } else {
        None
    }
}

/// A PDF ends with `%%EOF` (perhaps followed by line ends and padding) within its last kilobyte.
fn pdf_ends(bytes: &[u8]) -> bool {
    let tail = bytes.get(bytes.len().saturating_sub(1024)..).unwrap_or_default();
    tail.windows(5).any(|window| window == b"%%EOF")
}

/// Checks one upload; the refusal names the file.
pub fn accept(upload: Upload) -> Result<Accepted, FieldError> {
    let name = safe_name(&upload.name);
    let size = upload.bytes.len() + upload.dropped;
    if size > MAX_BYTES {
        return Err(FieldError::new(
            "attachments",
            format!(
                "{name}: {} MB is more than the {} MB a file may have",
                mb(size),
                MAX_BYTES / (1024 * 1024)
            ),
        ));
    }
    if upload.bytes.is_empty() {
        return Err(FieldError::new("attachments", format!("{name}: the file is empty")));
    }
    let Some(media_type) = sniff(&upload.bytes) else {
        return Err(FieldError::new(
            "attachments",
            format!("{name}: not a PDF, JPEG or PNG file (judged by its content, not its name)"),
        ));
    };
    let sha256 = hex::encode(Sha256::digest(&upload.bytes));
    Ok(Accepted { name, media_type, sha256, bytes: upload.bytes })
}

/// Checks one submission's uploads: at most [`PER_SUBMISSION`], each with [`accept`]; every
/// refusal is added to `errors`, and the files that passed are returned.
pub fn accept_all(uploads: Vec<Upload>, errors: &mut Vec<FieldError>) -> Vec<Accepted> {
    if uploads.len() > PER_SUBMISSION {
        errors.push(FieldError::new("attachments", format!("at most {PER_SUBMISSION} files at once")));
    }
    uploads.into_iter().filter_map(|upload| accept(upload).map_err(|e| errors.push(e)).ok()).collect()
}

fn mb(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// A file name without paths, control characters or quotes, at most [`NAME_MAX`] characters;
/// "plik" when nothing is left.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|'))
        .take(NAME_MAX)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() { "plik".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str, bytes: &[u8]) -> Upload {
        Upload { name: name.into(), bytes: bytes.to_vec(), dropped: 0 }
    }

    #[test]
    fn the_type_comes_from_the_content_not_the_name() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
        assert_eq!(accept(upload("statut.pdf", pdf)).map(|a| a.media_type).ok(), Some("application/pdf"));
        assert_eq!(accept(upload("statut.txt", pdf)).map(|a| a.media_type).ok(), Some("application/pdf"));
        // Claims to be a PDF by name and by its first bytes, but is not one.
        for fake in [&b"<html>not a pdf</html>"[..], b"%PDF-1.4 and then nothing", b"MZ\x90\x00"] {
            let refused = accept(upload("statut.pdf", fake)).err().map(|e| e.message);
            assert!(refused.is_some_and(|m| m.contains("not a PDF, JPEG or PNG")), "{fake:?}");
        }
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRrest";
        assert_eq!(sniff(png), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9]), Some("image/jpeg"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), None);
    }

    #[test]
    fn sizes_and_names_are_bounded() {
        let big = Upload { name: "skan.pdf".into(), bytes: b"%PDF-".to_vec(), dropped: 50 * 1024 * 1024 };
        let refused = accept(big).err().map(|e| e.message).unwrap_or_default();
        assert!(refused.contains("50.0 MB") && refused.contains("10 MB"), "{refused}");
        assert!(accept(upload("a.pdf", b"")).is_err());
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\\"zły\".pdf"), "zły.pdf");
        assert_eq!(safe_name(".."), "plik");
        assert_eq!(safe_name("Sprawozdanie jakości.pdf"), "Sprawozdanie jakości.pdf");
    }
}
