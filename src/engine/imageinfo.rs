//! Reads an image's real format and dimensions from its first bytes (JPEG, PNG, GIF, MP4),
//! for `--verify-image` and for choosing nothing but the truth as a file's extension.

use std::io::Read;
use std::path::Path;

/// What the header of a file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    /// "jpg", "png", "gif" or "mp4".
    pub format: &'static str,
    /// Pixel dimensions when the format carries them in its header (not for MP4).
    pub dims: Option<(u32, u32)>,
}

/// Sniffs the format and dimensions from a file's first bytes.
pub fn sniff(b: &[u8]) -> Option<Sniffed> {
    if b.len() >= 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") && &b[12..16] == b"IHDR" {
        let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
        let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
        return Some(Sniffed {
            format: "png",
            dims: Some((w, h)),
        });
    }
    if b.len() >= 10 && (b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) {
        let w = u16::from_le_bytes([b[6], b[7]]) as u32;
        let h = u16::from_le_bytes([b[8], b[9]]) as u32;
        return Some(Sniffed {
            format: "gif",
            dims: Some((w, h)),
        });
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return Some(Sniffed {
            format: "mp4",
            dims: None,
        });
    }
    if b.len() >= 4 && b[0] == 0xFF && b[1] == 0xD8 {
        return Some(Sniffed {
            format: "jpg",
            dims: jpeg_dims(b),
        });
    }
    None
}

fn jpeg_dims(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if i + 9 > b.len() {
                return None;
            }
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]) as u32;
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]) as u32;
            return Some((w, h));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Sniffs a file on disk (reads at most its first 256 KiB).
pub fn sniff_file(path: &Path) -> std::io::Result<Option<Sniffed>> {
    let mut buf = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)?
        .take(256 * 1024)
        .read_to_end(&mut buf)?;
    Ok(sniff(&buf))
}

/// Checks a downloaded image against what the index expects: a known format, the expected
/// format family, and the dimensions when both sides know them. Returns a reason when bad.
pub fn check(bytes_head: &[u8], ext: &str, dims: Option<(u32, u32)>) -> Result<(), String> {
    let s = sniff(bytes_head).ok_or_else(|| "not a JPEG, PNG, GIF or MP4 file".to_string())?;
    if s.format != ext && !(ext == "jpeg" && s.format == "jpg") {
        return Err(format!("a {} file where a {ext} was expected", s.format));
    }
    if let (Some(got), Some(want)) = (s.dims, dims) {
        if got != want {
            return Err(format!(
                "dimensions {}x{} where {}x{} were expected",
                got.0, got.1, want.0, want.1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn reads_jpeg_png_gif_mp4() {
        assert_eq!(
            sniff(&jpeg(4000, 3000)),
            Some(Sniffed {
                format: "jpg",
                dims: Some((4000, 3000))
            })
        );
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&1024u32.to_be_bytes());
        png.extend_from_slice(&768u32.to_be_bytes());
        assert_eq!(sniff(&png).unwrap().dims, Some((1024, 768)));
        let gif = b"GIF89a\x40\x01\xf0\x00".to_vec();
        assert_eq!(sniff(&gif).unwrap().dims, Some((320, 240)));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0").unwrap().format, "mp4");
        assert_eq!(sniff(b"<html>"), None);
    }

    #[test]
    fn check_catches_wrong_dims_and_formats() {
        let j = jpeg(100, 50);
        assert!(check(&j, "jpg", Some((100, 50))).is_ok());
        assert!(check(&j, "jpg", Some((50, 100))).is_err());
        assert!(check(&j, "png", None).is_err());
        assert!(check(b"garbage", "jpg", None).is_err());
    }
}
