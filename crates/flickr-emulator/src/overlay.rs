//! The mutable overlay on the deterministic streams: for each user, how far the stream grew,
//! which photos were deleted, which were made public late (inserted in the middle), which were
//! edited (texts, added comments, lastupdate) or replaced (new secrets and bytes), and the
//! per-user rates of private photos, dimension ties and comments with markup. Generation stays
//! a pure function of the seed; everything here is a small, explicit list of changes, and the
//! mutating operations draw their choices from (seed, operation number), so a run is
//! reproducible.

use super::data::{self, Key, Photo, Rng, MAX_SLOT};
use super::meta;
use super::text::{self, Text};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// What changed on one photo.
#[derive(Clone, Debug, Default)]
pub struct Mods {
    pub title_v: u32,
    pub desc_v: u32,
    /// `datecreate` of each comment added after upload.
    pub added_comments: Vec<i64>,
    /// Replacement count.
    pub variant: u32,
    pub last_update: Option<i64>,
}

/// One user's overlay.
#[derive(Clone, Debug, Default)]
pub struct Overlay {
    pub user: usize,
    /// Generated ranks 0..count exist (unless deleted).
    pub count: usize,
    pub deleted: BTreeSet<Key>,
    pub inserted: BTreeSet<Key>,
    pub mods: HashMap<Key, Mods>,
    /// Fraction of photos that are private: counted in `total`, missing from pages.
    pub private_rate: f64,
    /// Fraction of still photos whose PNG Original ties with Large 2048.
    pub tie_rate: f64,
    /// Fraction of generated comments served with markup.
    pub markup_rate: f64,
    /// Existing keys, newest first (private ones included); None = to rebuild.
    listing: Option<Arc<Vec<Key>>>,
}

/// Which texts an edit changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct EditWhat {
    pub title: bool,
    pub description: bool,
    pub comment: bool,
}

/// Where `/_delete` takes photos from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Head,
    Middle,
    Tail,
    Random,
}

impl Where {
    pub fn parse(s: &str) -> Option<Where> {
        Some(match s {
            "head" => Where::Head,
            "middle" => Where::Middle,
            "tail" => Where::Tail,
            "random" => Where::Random,
            _ => return None,
        })
    }
}

impl Overlay {
    pub fn new(user: usize, count: usize) -> Overlay {
        Overlay {
            user,
            count,
            ..Overlay::default()
        }
    }

    fn dirty(&mut self) {
        self.listing = None;
    }

    pub fn grow(&mut self, n: usize) {
        self.count = self.count.saturating_add(n);
        self.dirty();
    }

    pub fn exists(&self, key: Key) -> bool {
        let born = if key.slot == 0 {
            key.rank < self.count as u64
        } else {
            self.inserted.contains(&key)
        };
        born && !self.deleted.contains(&key)
    }

    pub fn is_private(&self, seed: u64, key: Key) -> bool {
        self.private_rate > 0.0 && meta::unit(seed, key.id(), 0x9417) < self.private_rate
    }

    /// Exists and is public.
    pub fn visible(&self, seed: u64, key: Key) -> bool {
        self.exists(key) && !self.is_private(seed, key)
    }

    fn is_tie(&self, seed: u64, key: Key) -> bool {
        self.tie_rate > 0.0 && meta::unit(seed, key.id(), 0x71E5) < self.tie_rate
    }

    /// Existing keys newest first (by upload date), private ones included.
    pub fn listing(&mut self) -> Arc<Vec<Key>> {
        if let Some(l) = &self.listing {
            return l.clone();
        }
        let mut keys: Vec<Key> = Vec::with_capacity(self.count + self.inserted.len());
        // Merge the generated ranks with the (sorted) inserted keys, oldest first.
        let mut ins = self.inserted.iter().peekable();
        for rank in 0..self.count as u64 {
            keys.push(Key::gen(self.user, rank));
            while let Some(k) = ins.peek() {
                if k.rank == rank {
                    keys.push(**k);
                    ins.next();
                } else {
                    break;
                }
            }
        }
        keys.extend(ins.copied());
        keys.retain(|k| !self.deleted.contains(k));
        keys.reverse();
        let l = Arc::new(keys);
        self.listing = Some(l.clone());
        l
    }

    /// The photo at `key` as it is now (variant, tie, edits, markup applied).
    pub fn photo(&self, seed: u64, image_kb: usize, key: Key) -> Photo {
        let mods = self.mods.get(&key);
        let variant = mods.map_or(0, |m| m.variant);
        let mut p = Photo::generate_at(seed, image_kb, key, variant, self.is_tie(seed, key));
        let id = p.id;
        if self.markup_rate > 0.0 {
            for (k, c) in p.comments.iter_mut().enumerate() {
                if meta::unit(seed, id, 0x3A2C + k as u64) < self.markup_rate {
                    *c = text::marked_comment(&mut Rng::new(&[seed, id, 0x3A2C, k as u64]));
                }
            }
        }
        let Some(m) = mods else {
            return p;
        };
        if m.title_v > 0 {
            p.title = changed(&p.title, |salt| {
                text::title(&mut Rng::new(&[seed, id, 0xED17, m.title_v as u64, salt]))
            });
        }
        if m.desc_v > 0 {
            let lang = p.title.lang;
            p.description = changed(&p.description, |salt| {
                text::description(
                    &mut Rng::new(&[seed, id, 0xDE5C, m.desc_v as u64, salt]),
                    lang,
                )
            });
        }
        for (j, &date) in m.added_comments.iter().enumerate() {
            let mut r = Rng::new(&[seed, id, 0xC0DE, j as u64]);
            let c = if r.below(2) == 0 {
                text::marked_comment(&mut r)
            } else {
                text::comment(&mut r)
            };
            p.comments.push(c);
            p.comment_dates.push(date);
        }
        if let Some(lu) = m.last_update {
            p.last_update = p.last_update.max(lu);
        }
        p
    }

    /// Whether `secret` is one this photo had before (older variant) or had when it was
    /// deleted: its URLs then redirect to the placeholder.
    pub fn stale_secret(&self, seed: u64, key: Key, secret: &str) -> bool {
        let variant = self.mods.get(&key).map_or(0, |m| m.variant);
        let gone = self.deleted.contains(&key);
        let born = if key.slot == 0 {
            key.rank < self.count as u64
        } else {
            self.inserted.contains(&key)
        };
        if !born {
            return false;
        }
        let last = if gone {
            variant
        } else {
            variant.saturating_sub(1)
        };
        if !gone && variant == 0 {
            return false;
        }
        (0..=last).any(|v| {
            let (s, o) = data::secrets(seed, key, v);
            s == secret || o == secret
        })
    }

    /// Visible keys chosen by an operation: `n` by the rng.
    fn pick(&mut self, seed: u64, n: usize, rng: &mut Rng) -> Vec<Key> {
        let l = self.listing();
        let vis: Vec<Key> = l
            .iter()
            .copied()
            .filter(|&k| !self.is_private(seed, k))
            .collect();
        sample(&vis, n, rng)
    }

    /// Deletes `n` visible photos from `at`, or the given keys; returns the deleted keys.
    pub fn delete(
        &mut self,
        seed: u64,
        keys: Option<Vec<Key>>,
        n: usize,
        at: Where,
        rng: &mut Rng,
    ) -> Vec<Key> {
        let chosen = match keys {
            Some(k) => k.into_iter().filter(|&k| self.exists(k)).collect(),
            None => {
                let l = self.listing();
                let vis: Vec<Key> = l
                    .iter()
                    .copied()
                    .filter(|&k| !self.is_private(seed, k))
                    .collect();
                let n = n.min(vis.len());
                match at {
                    Where::Head => vis[..n].to_vec(),
                    Where::Tail => vis[vis.len() - n..].to_vec(),
                    Where::Middle => {
                        let start = (vis.len() - n) / 2;
                        vis[start..start + n].to_vec()
                    }
                    Where::Random => sample(&vis, n, rng),
                }
            }
        };
        for &k in &chosen {
            self.deleted.insert(k);
        }
        self.dirty();
        chosen
    }

    /// Makes `n` photos public late, at their old upload dates between existing ones; ids never
    /// used before. Returns the new keys (fewer when the stream has no room).
    pub fn insert(&mut self, n: usize, rng: &mut Rng) -> Vec<Key> {
        let user = self.user;
        let mut out = Vec::new();
        if self.count < 2 {
            return out;
        }
        let mut tries = 0;
        while out.len() < n && tries < n * 20 + 100 {
            tries += 1;
            // Between rank r and r + 1, both below count: strictly inside the stream.
            let rank = rng.below(self.count as u64 - 1);
            let free = (1..=MAX_SLOT)
                .map(|slot| Key { user, rank, slot })
                .find(|k| !self.inserted.contains(k));
            if let Some(k) = free {
                self.inserted.insert(k);
                out.push(k);
            }
        }
        out.sort();
        self.dirty();
        out
    }

    /// Edits `n` visible photos (or the given keys): texts per `what` (random when None),
    /// lastupdate moved to `now`. Returns the edited keys.
    pub fn edit(
        &mut self,
        seed: u64,
        keys: Option<Vec<Key>>,
        n: usize,
        what: Option<EditWhat>,
        now: i64,
        rng: &mut Rng,
    ) -> Vec<Key> {
        let chosen = match keys {
            Some(k) => k.into_iter().filter(|&k| self.exists(k)).collect(),
            None => self.pick(seed, n, rng),
        };
        for &k in &chosen {
            let w = what.unwrap_or_else(|| {
                let t = rng.below(3);
                EditWhat {
                    title: t != 1,
                    description: t != 0,
                    comment: rng.below(2) == 0,
                }
            });
            let before = self.photo(seed, 1, k).last_update;
            let m = self.mods.entry(k).or_default();
            m.title_v += u32::from(w.title);
            m.desc_v += u32::from(w.description);
            if w.comment {
                m.added_comments.push(now);
            }
            m.last_update = Some(now.max(before + 1));
        }
        chosen
    }

    /// Replaces the image of `n` visible photos (or the given keys): new secrets and bytes,
    /// lastupdate moved to `now`.
    pub fn replace(
        &mut self,
        seed: u64,
        keys: Option<Vec<Key>>,
        n: usize,
        now: i64,
        rng: &mut Rng,
    ) -> Vec<Key> {
        let chosen = match keys {
            Some(k) => k.into_iter().filter(|&k| self.exists(k)).collect(),
            None => self.pick(seed, n, rng),
        };
        for &k in &chosen {
            let before = self.photo(seed, 1, k).last_update;
            let m = self.mods.entry(k).or_default();
            m.variant += 1;
            m.last_update = Some(now.max(before + 1));
        }
        chosen
    }
}

/// A text different from `old`, from `make(salt)` with the first salt that gives one.
fn changed(old: &Text, make: impl Fn(u64) -> Text) -> Text {
    let mut t = make(0);
    for salt in 1..8 {
        if t.content != old.content && !t.content.is_empty() {
            break;
        }
        t = make(salt);
    }
    t
}

/// `n` distinct items in their original order.
fn sample(items: &[Key], n: usize, rng: &mut Rng) -> Vec<Key> {
    let n = n.min(items.len());
    let mut idx: Vec<usize> = (0..items.len()).collect();
    for i in 0..n {
        let j = i + rng.below((idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen: Vec<usize> = idx[..n].to_vec();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| items[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_merges_inserts_in_date_order_and_drops_deleted() {
        let mut o = Overlay::new(0, 50);
        let mut rng = Rng::new(&[1]);
        let ins = o.insert(10, &mut rng);
        assert_eq!(ins.len(), 10);
        let del = o.delete(1, None, 5, Where::Middle, &mut rng);
        assert_eq!(del.len(), 5);
        let l = o.listing();
        assert_eq!(l.len(), 55);
        let dates: Vec<i64> = l.iter().map(|&k| data::date_upload(1, k)).collect();
        assert!(dates.windows(2).all(|w| w[0] > w[1]));
        assert!(del.iter().all(|k| !l.contains(k)));
        // Deleted slots are never reused.
        let del_ins = o.delete(1, Some(ins.clone()), 0, Where::Head, &mut rng);
        assert!(!del_ins.is_empty() && del_ins.iter().all(|k| ins.contains(k)));
        assert!(o.listing().iter().all(|k| !ins.contains(k)));
        let again = o.insert(30, &mut rng);
        assert!(again.iter().all(|k| !ins.contains(k)));
    }

    #[test]
    fn edits_and_replacements_move_lastupdate_and_secrets() {
        let mut o = Overlay::new(0, 20);
        let mut rng = Rng::new(&[2]);
        let k = Key::gen(0, 5);
        let before = o.photo(1, 24, k);
        let all = EditWhat {
            title: true,
            description: true,
            comment: true,
        };
        o.edit(1, Some(vec![k]), 0, Some(all), 2_000_000_000, &mut rng);
        let after = o.photo(1, 24, k);
        assert_ne!(after.title.content, before.title.content);
        assert_ne!(after.description.content, before.description.content);
        assert_eq!(after.comments.len(), before.comments.len() + 1);
        assert_eq!(after.last_update, 2_000_000_000);
        assert_eq!(after.secret, before.secret);
        o.replace(1, Some(vec![k]), 0, 2_000_000_100, &mut rng);
        let r = o.photo(1, 24, k);
        assert_ne!(r.secret, before.secret);
        assert_eq!(r.last_update, 2_000_000_100);
        assert!(o.stale_secret(1, k, &before.secret));
        assert!(!o.stale_secret(1, k, &r.secret));
        o.delete(1, Some(vec![k]), 0, Where::Head, &mut rng);
        assert!(o.stale_secret(1, k, &r.secret));
        assert!(!o.stale_secret(1, Key::gen(0, 6), "x"));
    }
}
