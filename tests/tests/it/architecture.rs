//! The server's areas form floors: each imports only areas on a lower floor, so none imports one
//! above it and there are no circles (ARCHITECTURE.md, "The server's areas").

use std::path::{Path, PathBuf};

/// Each area of `server/src` and its floor.
const FLOORS: &[(&str, u8)] = &[
    ("clock", 0),
    ("ids", 0),
    ("qr", 0),
    ("keys", 0),
    ("audit", 0),
    ("store", 1),
    ("issuer", 2),
    ("accounts", 2),
    ("mail", 2),
    ("applications", 3),
    ("http", 4),
    ("cli", 5),
];

fn floor(area: &str) -> Option<u8> {
    FLOORS.iter().find(|(name, _)| *name == area).map(|(_, floor)| *floor)
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of a file without its tests: test modules may reach up for fixtures.
fn without_tests(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name == "testing.rs" {
        return None;
    }
    Some(match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    })
}

/// The areas `code` names as `crate::<area>`.
fn imported_areas(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn server_areas_import_only_lower_floors() {
    let src = crate::browser::workspace().join("server").join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut areas_seen = std::collections::BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
        let area = first.trim_end_matches(".rs");
        if area == "lib" || area == "main" {
            continue;
        }
        let own = floor(area).unwrap_or_else(|| {
            panic!("server/src/{first} is an area ARCHITECTURE.md does not place on a floor")
        });
        areas_seen.insert(area.to_owned());
        let text = std::fs::read_to_string(path).unwrap();
        let Some(code) = without_tests(path, &text) else { continue };
        for imported in imported_areas(&code) {
            if imported == area {
                continue;
            }
            match floor(&imported) {
                Some(other) if other < own => {}
                Some(other) => violations.push(format!(
                    "{} (floor {own}) imports crate::{imported} (floor {other})",
                    relative.display()
                )),
                None => violations.push(format!("{} imports unknown crate::{imported}", relative.display())),
            }
        }
    }
    assert_eq!(areas_seen.len(), FLOORS.len(), "every floor's area exists: {areas_seen:?}");
    assert!(violations.is_empty(), "imports against the floors:\n{}", violations.join("\n"));
}

/// The check itself notices an import from above (so a scan that finds nothing is not vacuous).
#[test]
fn an_import_from_above_is_found() {
    let code = "use crate::store::Store;\nuse crate::http::fields;\nfn f() { crate::clock::instant(); }";
    assert_eq!(imported_areas(code), ["store", "http", "clock"]);
    let text = "use crate::ids;\n#[cfg(test)]\nmod tests {\n    use crate::cli::Global;\n}\n";
    assert_eq!(imported_areas(&without_tests(Path::new("x.rs"), text).unwrap()), ["ids"]);
}
