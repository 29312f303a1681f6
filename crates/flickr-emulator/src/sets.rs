//! Photosets (albums): a few per user with fixed titles (two share a title, as happens on
//! Flickr), ids like Flickr's (`72157…`), and deterministic membership over the user's current
//! public photos, each set in its own order (not the stream's). Deleted photos drop out,
//! photos made public late may join.

use super::data::{mix, Key};
use super::meta;

/// A photoset's fixed part.
#[derive(Clone, Debug)]
pub struct SetDef {
    pub user: usize,
    pub index: usize,
    pub id: String,
    pub title: &'static str,
    pub description: &'static str,
    /// Fraction of the user's photos in the set.
    share: f64,
    pub date_create: i64,
}

/// (title, description, share) per user.
const DEFS: [&[(&str, &str, f64)]; 3] = [
    &[
        ("Sài Gòn 1960s", "Ảnh Sài Gòn thập niên 1960 & 1970.", 0.30),
        (
            "Hà Nội xưa",
            "Hanoi before 1954: streets, markets \"and\" people.",
            0.20,
        ),
        (
            "Indochine - Cartes postales",
            "Cartes postales anciennes.",
            0.15,
        ),
        ("Sài Gòn 1960s", "", 0.08),
        ("Huế", "Cố đô Huế.", 0.12),
    ],
    &[
        ("Archive", "Scans from the archive.", 0.5),
        ("Archive", "Second batch.", 0.3),
    ],
    &[],
];

const SET_EPOCH: i64 = 1_400_000_000;

pub fn sets(seed: u64, user: usize) -> Vec<SetDef> {
    DEFS[user]
        .iter()
        .enumerate()
        .map(|(index, &(title, description, share))| SetDef {
            user,
            index,
            id: format!(
                "72157{:012}",
                mix(seed ^ mix(0x5E7 ^ ((user as u64) << 8) ^ index as u64)) % 1_000_000_000_000
            ),
            title,
            description,
            share,
            date_create: SET_EPOCH + (user * 10 + index) as i64 * 86_400 * 30,
        })
        .collect()
}

/// The set with this id, any user.
pub fn find(seed: u64, id: &str) -> Option<SetDef> {
    (0..DEFS.len())
        .flat_map(|u| sets(seed, u))
        .find(|s| s.id == id)
}

impl SetDef {
    pub fn contains(&self, seed: u64, key: Key) -> bool {
        meta::unit(seed, key.id(), 0x5E70 + self.index as u64) < self.share
    }

    /// Members among `visible` (any order), in the set's own order.
    pub fn members(&self, seed: u64, visible: &[Key]) -> Vec<Key> {
        let mut m: Vec<Key> = visible
            .iter()
            .copied()
            .filter(|&k| self.contains(seed, k))
            .collect();
        m.sort_by_key(|k| {
            (
                mix(seed ^ mix(k.id() ^ (0x0D3 + self.index as u64))),
                k.id(),
            )
        });
        m
    }

    /// Date of the last change: fixed after creation (a later date than date_create).
    pub fn date_update(&self) -> i64 {
        self.date_create + 86_400 * 200
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_titles_duplicated_membership_stable() {
        let all: Vec<SetDef> = (0..3).flat_map(|u| sets(1, u)).collect();
        let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert!(ids.iter().all(|i| i.len() == 17 && i.starts_with("72157")));
        assert_eq!(all[0].title, all[3].title);
        assert_eq!(find(1, &all[4].id).unwrap().title, "Huế");
        let keys: Vec<Key> = (0..200).map(|r| Key::gen(0, r)).collect();
        let m = all[0].members(1, &keys);
        assert!((30..100).contains(&m.len()), "{}", m.len());
        assert_eq!(m, all[0].members(1, &keys));
        assert!(m.windows(2).any(|w| w[0].rank < w[1].rank));
        assert!(m.windows(2).any(|w| w[0].rank > w[1].rank));
    }
}
