//! QR codes for verification pages: the payload is chosen so that the whole URL encodes in QR
//! alphanumeric mode, which keeps the code small (version 2 or 3) and easy to scan from packaging.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Pixels per module in the PNG: about 3 cm at 300 dpi for a version 2 code.
pub const PNG_MODULE_PX: u32 = 8;
/// Light modules around the code, as ISO/IEC 18004 requires for scanning.
pub const QUIET_ZONE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the payload does not fit in a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("the QR code is too large to draw")]
    TooLarge,
}

/// The URL a certificate's QR code carries: `HTTPS://HOST/V/ID`.
///
/// Scheme and host are case-insensitive, so they are uppercased into the alphanumeric set; a
/// path in the base URL is case-sensitive and kept as it is (it costs a byte-mode segment only
/// when it has lowercase letters). The server answers `/V/{id}` as well as `/v/{id}`.
pub fn payload(base_url: &str, id: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let authority_end = base
        .find("://")
        .map(|scheme_end| scheme_end + 3)
        .and_then(|start| base.get(start..).map(|rest| start + rest.find('/').unwrap_or(rest.len())))
        .unwrap_or(base.len());
    let (origin, path) = base.split_at(authority_end);
    format!("{}{path}/V/{}", origin.to_ascii_uppercase(), id.to_ascii_uppercase())
}

/// Characters of QR alphanumeric mode.
pub fn is_alphanumeric_mode(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b))
}

/// Encodes at error correction level M; the encoder picks alphanumeric mode for such payloads.
pub fn encode(payload: &str) -> Result<QrCode, QrError> {
    Ok(QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)?)
}

/// The code as an SVG document with the quiet zone, 8 user units per module.
pub fn svg(code: &QrCode) -> String {
    code.render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build()
}

/// The code as an 8-bit grayscale PNG, `scale` pixels per module, with the quiet zone.
pub fn png(code: &QrCode, scale: u32) -> Result<Vec<u8>, QrError> {
    let scale = scale.max(1);
    let modules = u32::try_from(code.width()).map_err(|_| QrError::TooLarge)?;
    let side_modules = modules + 2 * QUIET_ZONE;
    let side = side_modules.checked_mul(scale).ok_or(QrError::TooLarge)?;
    let colors = code.to_colors();
    let dark = |x: u32, y: u32| -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        if x >= modules || y >= modules {
            return false;
        }
        let index = (y as usize) * (modules as usize) + x as usize;
        colors.get(index).is_some_and(|c| *c == qrcode::Color::Dark)
    };
    let mut pixels = Vec::with_capacity((side as usize) * (side as usize));
    for y in 0..side {
        for x in 0..side {
            pixels.push(if dark(x / scale, y / scale) { 0u8 } else { 255u8 });
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::Version;
    use qrcode::bits::Bits;

    #[test]
    fn payload_is_uppercase_url() {
        assert_eq!(payload("https://zp.rops.lublin.pl", "7k3qx9m2"), "HTTPS://ZP.ROPS.LUBLIN.PL/V/7K3QX9M2");
        assert_eq!(payload("https://zp.rops.lublin.pl/", "7K3QX9M2"), "HTTPS://ZP.ROPS.LUBLIN.PL/V/7K3QX9M2");
        assert_eq!(payload("http://127.0.0.1:8080", "7K3QX9M2"), "HTTP://127.0.0.1:8080/V/7K3QX9M2");
        // The path of a base URL is case-sensitive on the server, so it stays.
        assert_eq!(
            payload("https://Rops.example.pl/zp", "7K3QX9M2"),
            "HTTPS://ROPS.EXAMPLE.PL/zp/V/7K3QX9M2"
        );
        assert_eq!(payload("no-scheme", "7K3QX9M2"), "NO-SCHEME/V/7K3QX9M2");
    }

    #[test]
    fn typical_payload_is_alphanumeric_mode_and_small() {
        for base in [
            "https://zp.rops.lublin.pl",
            "https://certyfikaty.rops.wielkopolskie.pl",
            "http://127.0.0.1:8080",
        ] {
            let text = payload(base, "7K3QX9M2");
            assert!(is_alphanumeric_mode(&text), "{text}");
            // The encoder refuses any character outside the alphanumeric set in this mode.
            let mut bits = Bits::new(Version::Normal(3));
            bits.push_alphanumeric_data(text.as_bytes()).unwrap();
            let code = encode(&text).unwrap();
            assert_eq!(code.error_correction_level(), EcLevel::M);
            match code.version() {
                Version::Normal(v) => assert!(v <= 3, "{text} needs version {v}"),
                Version::Micro(_) => panic!("micro QR codes are not for phones"),
            }
        }
        let lublin = encode(&payload("https://zp.rops.lublin.pl", "7K3QX9M2")).unwrap();
        assert_eq!(lublin.version(), Version::Normal(2));
    }

    #[test]
    fn alphanumeric_set() {
        assert!(is_alphanumeric_mode("HTTPS://A.B/V/0-9 $%*+"));
        assert!(!is_alphanumeric_mode("https://a.b"));
        assert!(!is_alphanumeric_mode("A_B"));
        assert!(!is_alphanumeric_mode("A?B"));
    }

    #[test]
    fn svg_has_quiet_zone() {
        let code = encode("HTTPS://ZP.ROPS.LUBLIN.PL/V/7K3QX9M2").unwrap();
        let side = (code.width() as u32 + 2 * QUIET_ZONE) * PNG_MODULE_PX;
        let image = svg(&code);
        assert!(image.contains("<svg"));
        assert!(image.contains(&format!(r#"viewBox="0 0 {side} {side}""#)), "{image}");
    }

    #[test]
    fn png_decodes_to_expected_size() {
        let code = encode("HTTPS://ZP.ROPS.LUBLIN.PL/V/7K3QX9M2").unwrap();
        let bytes = png(&code, PNG_MODULE_PX).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let side = (25 + 2 * QUIET_ZONE) * PNG_MODULE_PX;
        assert_eq!((frame.width, frame.height), (side, side));
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
        let at = |x: u32, y: u32| buf[(y * side + x) as usize];
        // Quiet zone light, top-left finder pattern dark, its inner ring light.
        assert_eq!(at(0, 0), 255);
        assert_eq!(at(QUIET_ZONE * PNG_MODULE_PX - 1, QUIET_ZONE * PNG_MODULE_PX), 255);
        assert_eq!(at(QUIET_ZONE * PNG_MODULE_PX, QUIET_ZONE * PNG_MODULE_PX), 0);
        assert_eq!(at((QUIET_ZONE + 1) * PNG_MODULE_PX, (QUIET_ZONE + 1) * PNG_MODULE_PX), 255);
        assert_eq!(at((QUIET_ZONE + 3) * PNG_MODULE_PX, (QUIET_ZONE + 3) * PNG_MODULE_PX), 0);
    }
}
