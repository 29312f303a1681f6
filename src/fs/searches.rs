//! The registry of search directories (`.flickrfs/search/<query>/`): which query a search
//! directory's inode names, and the hits of the directories used last. Both are bounded: the
//! hits of at most [`config::SEARCH_DIRS_CACHED`] directories are kept (an evicted one is
//! searched again when next used), and at most [`config::SEARCH_MAX_QUERIES`] names, least
//! recently used dropped first. A name the kernel still holds after it was dropped is looked
//! up again by name (its entry lasts [`config::FUSE_SHORT_TTL`]), and gets a new inode then. So any
//! number of names looked up (zero hits included) costs bounded memory.

use crate::config;
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::Instant;

/// The hits of one search directory: (photo hash, image extension), best first.
pub(super) struct Hits {
    pub(super) hits: Vec<(String, String)>,
    pub(super) at: Instant,
}

pub(super) struct Searches {
    /// Query to directory id, least recently used first out.
    ids: LruCache<String, u32>,
    /// The reverse of `ids`.
    queries: HashMap<u32, String>,
    hits: LruCache<u32, Hits>,
    next: u32,
}

impl Default for Searches {
    fn default() -> Searches {
        Searches::with_capacity(config::SEARCH_MAX_QUERIES, config::SEARCH_DIRS_CACHED)
    }
}

impl Searches {
    pub(super) fn with_capacity(names: usize, dirs: usize) -> Searches {
        let cap = |n: usize| NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN);
        Searches {
            ids: LruCache::new(cap(names)),
            queries: HashMap::new(),
            hits: LruCache::new(cap(dirs)),
            next: 0,
        }
    }

    /// The id of `query`'s directory, if it has one.
    pub(super) fn id_of(&mut self, query: &str) -> Option<u32> {
        self.ids.get(query).copied()
    }

    /// A directory for `query` (which has none yet) holding `hits`; returns its id.
    pub(super) fn insert(&mut self, query: &str, hits: Vec<(String, String)>) -> u32 {
        if let Some(id) = self.id_of(query) {
            self.set_hits(id, hits);
            return id;
        }
        loop {
            self.next = self.next.wrapping_add(1);
            if self.next != 0 && !self.queries.contains_key(&self.next) {
                break;
            }
        }
        let id = self.next;
        if let Some((_, old)) = self.ids.push(query.to_string(), id) {
            self.queries.remove(&old);
            self.hits.pop(&old);
        }
        self.queries.insert(id, query.to_string());
        self.set_hits(id, hits);
        id
    }

    /// The query of directory `id` (marked used), if the name is still known.
    pub(super) fn query_of(&mut self, id: u32) -> Option<String> {
        let q = self.queries.get(&id)?.clone();
        self.ids.get(&q);
        Some(q)
    }

    /// The hits of directory `id`, when held and younger than `max_age`.
    pub(super) fn fresh_hits(&mut self, id: u32, max_age: std::time::Duration) -> Option<&Hits> {
        self.hits.get(&id).filter(|h| h.at.elapsed() <= max_age)
    }

    pub(super) fn set_hits(&mut self, id: u32, hits: Vec<(String, String)>) {
        if self.queries.contains_key(&id) {
            self.hits.put(
                id,
                Hits {
                    hits,
                    at: Instant::now(),
                },
            );
        }
    }

    /// Every known directory (id, query), for a listing of `.flickrfs/search/`.
    pub(super) fn list(&self) -> Vec<(u32, String)> {
        let mut all: Vec<(u32, String)> = self.ids.iter().map(|(q, id)| (*id, q.clone())).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    #[cfg(test)]
    fn names_held(&self) -> usize {
        self.queries.len()
    }

    #[cfg(test)]
    fn dirs_held(&self) -> usize {
        self.hits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hit(i: usize) -> Vec<(String, String)> {
        vec![(format!("{i:032x}"), "jpg".into())]
    }

    #[test]
    fn names_and_hits_stay_within_their_bounds() {
        let mut s = Searches::with_capacity(100, 4);
        for i in 0..10_000 {
            let id = s.insert(&format!("query {i}"), hit(i));
            assert_eq!(
                s.query_of(id).as_deref(),
                Some(format!("query {i}").as_str())
            );
        }
        assert_eq!(s.names_held(), 100);
        assert_eq!(s.dirs_held(), 4);
        assert_eq!(s.list().len(), 100);
        // The oldest are gone, the newest kept with their hits.
        assert_eq!(s.id_of("query 0"), None);
        let id = s.id_of("query 9999").unwrap();
        assert_eq!(s.fresh_hits(id, Duration::MAX).unwrap().hits, hit(9999));
        // A known name whose hits were evicted has none until searched again.
        let id = s.id_of("query 9950").unwrap();
        assert!(s.fresh_hits(id, Duration::MAX).is_none());
        s.set_hits(id, hit(1));
        assert_eq!(s.fresh_hits(id, Duration::MAX).unwrap().hits, hit(1));
    }

    #[test]
    fn a_used_name_outlives_unused_ones() {
        let mut s = Searches::with_capacity(3, 3);
        let a = s.insert("a", hit(0));
        s.insert("b", hit(1));
        s.insert("c", hit(2));
        assert_eq!(s.query_of(a).as_deref(), Some("a"));
        s.insert("d", hit(3));
        assert_eq!(s.id_of("b"), None);
        assert_eq!(s.id_of("a"), Some(a));
        // Ids are never reused while their name is known.
        let ids: std::collections::HashSet<u32> = s.list().iter().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), 3);
    }
}
