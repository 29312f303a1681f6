//! Per-photo metadata that Flickr serves through extras and getInfo, derived from (seed, id)
//! alone so edits and replacements leave it alone: the date taken with its granularity (full,
//! month, year, circa) or unknown, normalised tags, and geo (place, accuracy, WOE id).

use super::data::{mix, Rng};
use super::timefmt::datetime;

/// `datetaken` ("YYYY-MM-DD HH:MM:SS"), `datetakengranularity` (0 full, 4 month, 6 year,
/// 8 circa) and `datetakenunknown`. Unknown dates are the upload time with granularity 0, as
/// Flickr fills them in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub text: String,
    pub granularity: u8,
    pub unknown: bool,
}

/// A geotag. `accuracy` is Flickr's 1 (world) ..16 (street).
#[derive(Clone, Debug, PartialEq)]
pub struct Geo {
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy: u8,
    pub place_id: &'static str,
    pub woeid: &'static str,
}

/// Rough centres of the places the corpus talks about, with made-up but stable place ids.
const PLACES: &[(f64, f64, &str, &str)] = &[
    (10.776_9, 106.700_9, "VyaGVtpTV7l.4Ekt", "1252431"),
    (21.028_5, 105.854_2, "rL2vKhBTWrhf2J9_", "1236594"),
    (16.463_7, 107.590_9, "Yr.Cn_xQUL_zo6OU", "1252376"),
    (16.054_4, 108.202_2, "4uIC0IxQUL1cBz6y", "1252370"),
    (10.754_0, 106.663_0, "oHkq59VTUr5jnn7T", "1252431"),
];

fn rng(seed: u64, id: u64, salt: u64) -> Rng {
    Rng::new(&[seed, id, salt])
}

pub fn taken(seed: u64, id: u64, date_upload: i64) -> Taken {
    let mut r = rng(seed, id, 0x7A4E);
    let kind = r.below(100);
    let year = 1890 + r.below(86) as i64;
    let month = 1 + r.below(12) as i64;
    let day = 1 + r.below(28) as i64;
    let secs = r.below(86_400) as i64;
    let ymd = |y: i64, m: i64, d: i64| format!("{y:04}-{m:02}-{d:02}");
    let (text, granularity, unknown) = match kind {
        0..=39 => (
            format!(
                "{} {}",
                ymd(year, month, day),
                &datetime(secs)[11..] // HH:MM:SS
            ),
            0,
            false,
        ),
        40..=54 => (format!("{} 00:00:00", ymd(year, month, 1)), 4, false),
        55..=79 => (format!("{} 00:00:00", ymd(year, 1, 1)), 6, false),
        80..=84 => (format!("{} 00:00:00", ymd(year, 1, 1)), 8, false),
        _ => (datetime(date_upload), 0, true),
    };
    Taken {
        text,
        granularity,
        unknown,
    }
}

const TAGS: &[&str] = &[
    "saigon",
    "sàigòn",
    "vietnam",
    "việtnam",
    "hanoi",
    "hànội",
    "indochine",
    "indochina",
    "cholon",
    "1960s",
    "1930s",
    "vintage",
    "oldphoto",
    "manhhai",
    "postcard",
    "cartepostale",
    "streetlife",
    "market",
    "hue",
];

/// Flickr's normalised form of a raw tag: lowercase, letters and digits only (Unicode letters
/// kept), as in the `tags` extra.
pub fn normalise_tag(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Normalised tags, in the order they were added; about a third of photos have none.
pub fn tags(seed: u64, id: u64) -> Vec<String> {
    let mut r = rng(seed, id, 0x7A65);
    if r.below(100) < 35 {
        return Vec::new();
    }
    let n = 1 + r.below(6) as usize;
    let mut out: Vec<String> = Vec::new();
    for _ in 0..n {
        let t = normalise_tag(TAGS[r.below(TAGS.len() as u64) as usize]);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// About a quarter of photos are geotagged.
pub fn geo(seed: u64, id: u64) -> Option<Geo> {
    let mut r = rng(seed, id, 0x6E0);
    if r.below(100) >= 25 {
        return None;
    }
    let (lat, lon, place_id, woeid) = PLACES[r.below(PLACES.len() as u64) as usize];
    let jitter = |r: &mut Rng| (r.unit() - 0.5) * 0.05;
    let round6 = |x: f64| (x * 1e6).round() / 1e6;
    let latitude = round6(lat + jitter(&mut r));
    let longitude = round6(lon + jitter(&mut r));
    let accuracy = [16u8, 15, 13, 11][r.below(4) as usize];
    Some(Geo {
        latitude,
        longitude,
        accuracy,
        place_id,
        woeid,
    })
}

/// A deterministic unit number for (seed, id, salt): the dice of per-photo rates.
pub fn unit(seed: u64, id: u64, salt: u64) -> f64 {
    (mix(seed ^ mix(id ^ mix(salt))) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_kinds_and_shapes() {
        let mut seen = [0usize; 9];
        let mut unknown = 0;
        for id in 0..2000u64 {
            let t = taken(1, id, 1_262_304_000);
            assert_eq!(t.text.len(), 19, "{}", t.text);
            seen[t.granularity as usize] += 1;
            if t.unknown {
                unknown += 1;
                assert_eq!(t.text, "2010-01-01 00:00:00");
            }
            if t.granularity == 6 || t.granularity == 8 {
                assert!(t.text.ends_with("-01-01 00:00:00"));
            }
        }
        assert!(seen[0] > 0 && seen[4] > 0 && seen[6] > 0 && seen[8] > 0 && unknown > 0);
    }

    #[test]
    fn tags_are_normalised_and_sometimes_absent() {
        assert_eq!(normalise_tag("Sài Gòn 1960's"), "sàigòn1960s");
        let all: Vec<Vec<String>> = (0..300).map(|id| tags(1, id)).collect();
        assert!(all.iter().any(Vec::is_empty));
        assert!(all.iter().any(|t| t.len() > 2));
        for t in all.iter().flatten() {
            assert_eq!(&normalise_tag(t), t);
        }
        let g = (0..400).filter(|&id| geo(1, id).is_some()).count();
        assert!((50..150).contains(&g), "{g}");
    }
}
