//! Short names for the functions the badge's module imports from its glue. wasm-bindgen names
//! each `__wbg_<method>_<16 hex digits>`, and every name is written twice, in the module's import
//! section and as a key in the glue: some 90 names whose hashes no compressor can shrink. The
//! module and the glue only have to agree with each other, so both get `a`, `b`, … instead; and
//! so do wasm-bindgen's own exports (`__wbindgen_export2`, `__wasm_bindgen_func_elem_924`, …),
//! which the glue reads as properties of the module's exports.

use anyhow::{Context, Result, bail};

/// The module's import names, as wasm-bindgen writes them.
const GLUE_MODULE: &str = "./zp-widget_bg.js";
/// What the module's imports are called instead.
const SHORT_MODULE: &str = "w";

/// Renames the module's imports from the glue in `wasm` and in `glue` alike. Each name must occur
/// exactly once in the glue, as the key of its import (the hashes make them unique); otherwise
/// nothing is renamed and the reason is returned, so the bundle stays as wasm-bindgen made it.
pub fn shorten(wasm: &[u8], glue: &str) -> Result<(Vec<u8>, String)> {
    let mut reader = Reader { bytes: wasm, at: 0 };
    if reader.take(8)? != b"\0asm\x01\0\0\0" {
        bail!("not a WebAssembly module (version 1)");
    }
    let mut glue = glue.to_owned();
    let quoted_module = format!("\"{GLUE_MODULE}\"");
    if glue.matches(&quoted_module).count() != 1 {
        bail!("the glue does not name {quoted_module} exactly once");
    }
    glue = glue.replacen(&quoted_module, &format!("\"{SHORT_MODULE}\""), 1);
    let mut out = wasm.get(..8).context("short module")?.to_vec();
    let mut renamed = 0;
    while reader.at < wasm.len() {
        let id = reader.byte()?;
        let len = reader.leb()?;
        let body = reader.take(len)?;
        if id == EXPORT_SECTION {
            out.push(id);
            let rewritten = shorten_exports(body, &mut glue)?;
            write_leb(&mut out, rewritten.len());
            out.extend_from_slice(&rewritten);
            continue;
        }
        if id != IMPORT_SECTION {
            out.push(id);
            write_leb(&mut out, body.len());
            out.extend_from_slice(body);
            continue;
        }
        let mut section = Reader { bytes: body, at: 0 };
        let count = section.leb()?;
        let mut rewritten = Vec::new();
        write_leb(&mut rewritten, count);
        for _ in 0..count {
            let module = section.name()?;
            let field = section.name()?;
            let descriptor = section.descriptor()?;
            let (module, field) = if module == GLUE_MODULE {
                let short = short_name(renamed);
                renamed += 1;
                rename_key(&mut glue, field, &short)?;
                (SHORT_MODULE.to_owned(), short)
            } else {
                (module.to_owned(), field.to_owned())
            };
            for name in [&module, &field] {
                write_leb(&mut rewritten, name.len());
                rewritten.extend_from_slice(name.as_bytes());
            }
            rewritten.extend_from_slice(descriptor);
        }
        if section.at != body.len() {
            bail!("the import section has {} bytes after its entries", body.len() - section.at);
        }
        out.push(id);
        write_leb(&mut out, rewritten.len());
        out.extend_from_slice(&rewritten);
    }
    Ok((out, glue))
}

const IMPORT_SECTION: u8 = 2;
const EXPORT_SECTION: u8 = 7;

/// Renames the exports that only wasm-bindgen's glue uses (`__w…`), where the glue reads each only
/// as a property (`.name`); the badge's own exports (`badge_new`, `adopt`, …) and `memory` keep
/// their names.
fn shorten_exports(body: &[u8], glue: &mut String) -> Result<Vec<u8>> {
    let mut section = Reader { bytes: body, at: 0 };
    let count = section.leb()?;
    let mut rewritten = Vec::new();
    write_leb(&mut rewritten, count);
    let mut renamed = 0;
    for _ in 0..count {
        let name = section.name()?;
        let start = section.at;
        section.byte()?;
        section.leb()?;
        let descriptor = body.get(start..section.at).context("truncated")?;
        let found = occurrences(glue, name);
        let only_properties =
            !found.is_empty() && found.iter().all(|&at| glue.get(..at).is_some_and(|s| s.ends_with('.')));
        let name = if name.starts_with("__w") && only_properties {
            let short = format!("_{}", short_name(renamed));
            renamed += 1;
            for &at in found.iter().rev() {
                glue.replace_range(at..at + name.len(), &short);
            }
            short
        } else {
            name.to_owned()
        };
        write_leb(&mut rewritten, name.len());
        rewritten.extend_from_slice(name.as_bytes());
        rewritten.extend_from_slice(descriptor);
    }
    if section.at != body.len() {
        bail!("the export section has {} bytes after its entries", body.len() - section.at);
    }
    Ok(rewritten)
}

/// `a`…`z`, `A`…`Z`, then a letter and digits: never a reserved word, always a plain key.
fn short_name(index: usize) -> String {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let letter = LETTERS.get(index % 52).map_or('a', |&byte| char::from(byte));
    match index / 52 {
        0 => letter.to_string(),
        n => format!("{letter}{}", n - 1),
    }
}

/// Where the identifier `name` occurs in `glue` (not as part of a longer one).
fn occurrences(glue: &str, name: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    glue.match_indices(name)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = glue.get(..at).and_then(|s| s.chars().next_back()).is_none_or(|c| !is_ident(c));
            let after =
                glue.get(at + name.len()..).and_then(|s| s.chars().next()).is_none_or(|c| !is_ident(c));
            before && after
        })
        .collect()
}

/// Replaces the one occurrence of the identifier `name` in `glue` by `short`.
fn rename_key(glue: &mut String, name: &str, short: &str) -> Result<()> {
    let found = occurrences(glue, name);
    match found.as_slice() {
        [at] => {
            glue.replace_range(*at..*at + name.len(), short);
            Ok(())
        }
        _ => bail!("the glue names the import {name} {} times, not once", found.len()),
    }
}

fn write_leb(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).context("truncated")?;
        let taken = self.bytes.get(self.at..end).context("truncated")?;
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8> {
        self.take(1)?.first().copied().context("truncated")
    }

    fn leb(&mut self) -> Result<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("LEB128 number longer than 5 bytes")
    }

    fn name(&mut self) -> Result<&'a str> {
        let len = self.leb()?;
        std::str::from_utf8(self.take(len)?).context("an import name that is not UTF-8")
    }

    /// What an import is (function, table, memory, global, tag), kept as it is.
    fn descriptor(&mut self) -> Result<&'a [u8]> {
        let start = self.at;
        match self.byte()? {
            0x00 => drop(self.leb()?),
            0x01 => {
                self.byte()?;
                self.limits()?;
            }
            0x02 => self.limits()?,
            0x03 => drop(self.take(2)?),
            0x04 => {
                self.byte()?;
                self.leb()?;
            }
            kind => bail!("import of unknown kind {kind:#04x}"),
        }
        self.bytes.get(start..self.at).context("truncated")
    }

    fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_in_module_and_glue_alike() {
        let name = "__wbg_then_656f253a5dd7d8ea";
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        let mut section = vec![1];
        for text in [GLUE_MODULE, name] {
            write_leb(&mut section, text.len());
            section.extend_from_slice(text.as_bytes());
        }
        section.extend_from_slice(&[0x00, 0x03]);
        wasm.push(IMPORT_SECTION);
        write_leb(&mut wasm, section.len());
        wasm.extend_from_slice(&section);
        let glue = format!("x={{\"{GLUE_MODULE}\":{{{name}:function(e){{}}}}}}");
        let (wasm, glue) = shorten(&wasm, &glue).expect("renames");
        assert_eq!(glue, "x={\"w\":{a:function(e){}}}");
        assert_eq!(&wasm[8..], &[2, 7, 1, 1, b'w', 1, b'a', 0x00, 0x03]);
    }

    #[test]
    fn renames_exports_the_glue_reads_as_properties() {
        let mut body = vec![2];
        for (name, index) in [("__wbindgen_export2", 7), ("badge_new", 8)] {
            write_leb(&mut body, name.len());
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&[0x00, index]);
        }
        let mut glue = "c.__wbindgen_export2(1);c.__wbindgen_export2(2);c.badge_new()".to_owned();
        let rewritten = shorten_exports(&body, &mut glue).expect("renames");
        assert_eq!(glue, "c._a(1);c._a(2);c.badge_new()");
        assert_eq!(&rewritten[..6], &[2, 2, b'_', b'a', 0x00, 7]);
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name(0), "a");
        assert_eq!(short_name(51), "Z");
        assert_eq!(short_name(52), "a0");
        assert_eq!(short_name(105), "b1");
    }
}
