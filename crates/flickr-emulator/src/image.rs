//! Deterministic image bytes: a valid JPEG/PNG/GIF/MP4 header declaring the size's
//! dimensions, deterministic filler, and the format's trailer, exactly `len` bytes long; and
//! the "photo unavailable" placeholder, a small fully valid PNG.

use super::data::{Format, Rng};
use md5::{Digest, Md5};

/// The bytes of one file. `len` below the format's minimum is raised to it.
pub fn render(format: Format, width: u32, height: u32, len: u64, key: u64) -> Vec<u8> {
    let len = len.max(128) as usize;
    let mut out = Vec::with_capacity(len);
    let mut rng = Rng::new(&[key]);
    match format {
        Format::Jpeg => {
            out.extend_from_slice(&[0xFF, 0xD8]); // SOI
            out.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]); // APP0, length 16
            out.extend_from_slice(b"JFIF\0");
            out.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
            out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]); // SOF0, length 17, 8 bits
            out.extend_from_slice(&(height.min(65_535) as u16).to_be_bytes());
            out.extend_from_slice(&(width.min(65_535) as u16).to_be_bytes());
            out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
            // Entropy-coded-like filler with no 0xFF, so no marker appears before EOI.
            filler(&mut out, &mut rng, len - 2, |b| {
                if b == 0xFF {
                    0xFE
                } else {
                    b
                }
            });
            out.extend_from_slice(&[0xFF, 0xD9]); // EOI
        }
        Format::Png => {
            out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
            let mut ihdr = Vec::with_capacity(13);
            ihdr.extend_from_slice(&width.to_be_bytes());
            ihdr.extend_from_slice(&height.to_be_bytes());
            ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
            chunk(&mut out, b"IHDR", &ihdr);
            let data_len = len - out.len() - 12 - 12;
            let mut data = Vec::with_capacity(data_len);
            filler(&mut data, &mut rng, data_len, |b| b);
            chunk(&mut out, b"IDAT", &data);
            chunk(&mut out, b"IEND", &[]);
        }
        Format::Gif => {
            out.extend_from_slice(b"GIF89a");
            out.extend_from_slice(&(width.min(65_535) as u16).to_le_bytes());
            out.extend_from_slice(&(height.min(65_535) as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0, 0]);
            filler(&mut out, &mut rng, len - 1, |b| b);
            out.push(0x3B); // trailer
        }
        Format::Mp4 => {
            out.extend_from_slice(&24u32.to_be_bytes());
            out.extend_from_slice(b"ftypisom");
            out.extend_from_slice(&0x200u32.to_be_bytes());
            out.extend_from_slice(b"isomiso2");
            out.extend_from_slice(&((len - out.len()) as u32).to_be_bytes());
            out.extend_from_slice(b"mdat");
            filler(&mut out, &mut rng, len, |b| b);
        }
    }
    debug_assert_eq!(out.len(), len);
    out
}

/// Dimensions of the placeholder (those of Flickr's photo_unavailable.png).
pub const PLACEHOLDER_DIMS: (u32, u32) = (500, 374);

/// A complete, decodable PNG: 2-colour palette, a grey field with a darker frame, stored
/// (uncompressed) deflate blocks.
pub fn placeholder_png() -> Vec<u8> {
    let (w, h) = PLACEHOLDER_DIMS;
    let row_bytes = w.div_ceil(8) as usize;
    let mut raw = Vec::with_capacity((row_bytes + 1) * h as usize);
    for y in 0..h {
        raw.push(0); // filter: none
        for bx in 0..row_bytes {
            let mut byte = 0u8;
            for bit in 0..8 {
                let x = bx as u32 * 8 + bit;
                let frame = x < 4 || y < 4 || x + 4 >= w || y + 4 >= h;
                if frame && x < w {
                    byte |= 0x80 >> bit;
                }
            }
            raw.push(byte);
        }
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(b) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none()));
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[1, 3, 0, 0, 0]); // 1 bit, palette
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", &[0xDE, 0xDE, 0xDE, 0x99, 0x99, 0x99]);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + x as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn filler(out: &mut Vec<u8>, rng: &mut Rng, until: usize, map: impl Fn(u8) -> u8) {
    while out.len() < until {
        let word = rng.next_u64().to_le_bytes();
        let take = (until - out.len()).min(8);
        out.extend(word[..take].iter().map(|&b| map(b)));
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Lowercase hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths_and_headers() {
        for f in [Format::Jpeg, Format::Png, Format::Gif, Format::Mp4] {
            for len in [10u64, 128, 1000, 24_577] {
                let b = render(f, 4000, 3000, len, 7);
                assert_eq!(b.len() as u64, len.max(128));
                assert_eq!(b, render(f, 4000, 3000, len, 7));
            }
        }
        let j = render(Format::Jpeg, 4000, 3000, 500, 1);
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9]);
        assert_eq!(u16::from_be_bytes([j[25], j[26]]), 3000);
        assert_eq!(u16::from_be_bytes([j[27], j[28]]), 4000);
        let p = render(Format::Png, 4000, 3000, 500, 1);
        assert_eq!(&p[12..16], b"IHDR");
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn placeholder_is_a_small_png() {
        let p = placeholder_png();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&p[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes([p[16], p[17], p[18], p[19]]), 500);
        assert!(p.len() < 30_000, "{}", p.len());
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(&p[p.len() - 8..p.len() - 4], b"IEND");
    }
}
