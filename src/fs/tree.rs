//! The hashed tree in memory: every indexed photo's hash and index rowid, sorted by hash, so
//! that a directory of the tree is a contiguous range and exists exactly when that range is not
//! empty. Pure data: the file system feeds it from the index.

/// Indexed photos as (hash, rowid), sorted by hash.
#[derive(Default)]
pub(super) struct Tree {
    entries: Vec<(String, i64)>,
    max_rowid: i64,
}

impl Tree {
    /// The largest rowid loaded: rows after it are new.
    pub(super) fn max_rowid(&self) -> i64 {
        self.max_rowid
    }

    /// Adds photos (rowid, id) in one sorted merge; photos already present are kept once.
    pub(super) fn add(&mut self, rows: &[(i64, String)]) {
        if rows.is_empty() {
            return;
        }
        let mut add: Vec<(String, i64)> = rows
            .iter()
            .map(|(r, id)| (crate::photo::hash(id), *r))
            .collect();
        add.sort();
        self.max_rowid = self
            .max_rowid
            .max(rows.iter().map(|(r, _)| *r).max().unwrap_or(0));
        let old = std::mem::take(&mut self.entries);
        let mut merged = Vec::with_capacity(old.len() + add.len());
        let (mut a, mut b) = (old.into_iter().peekable(), add.into_iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x <= y,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            if let Some(n) = next {
                if merged.last() != Some(&n) {
                    merged.push(n);
                }
            }
        }
        self.entries = merged;
    }

    /// Entries whose hash starts with `prefix`.
    pub(super) fn range(&self, prefix: &str) -> &[(String, i64)] {
        let lo = self.entries.partition_point(|(h, _)| h.as_str() < prefix);
        let hi = lo + self.entries[lo..].partition_point(|(h, _)| h.starts_with(prefix));
        &self.entries[lo..hi]
    }

    /// True when some photo's hash starts with `prefix` (that directory exists).
    pub(super) fn holds(&self, prefix: &str) -> bool {
        !self.range(prefix).is_empty()
    }

    /// The rowid of the photo whose hash is `hash`.
    pub(super) fn find(&self, hash: &str) -> Option<i64> {
        self.range(hash)
            .first()
            .filter(|(h, _)| h == hash)
            .map(|(_, r)| *r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_merges() {
        let mut t = Tree::default();
        t.add(&[(1, "a".into()), (2, "b".into())]);
        t.add(&[(3, "c".into()), (2, "b".into())]);
        assert_eq!(t.max_rowid(), 3);
        assert_eq!(t.range("").len(), 3, "a photo added twice is held once");
        let ha = crate::photo::hash("a");
        assert_eq!(t.find(&ha), Some(1));
        assert!(t.holds(&ha[..1]));
        assert_eq!(t.range(&ha).len(), 1);
        assert_eq!(t.find("ffffffffffffffffffffffffffffffff"), None);
        assert!(!t.holds("g"));
    }
}
