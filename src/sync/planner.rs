//! Which listing page to fetch next, and which photos may be processed yet.
//!
//! Pure logic, no I/O. The stream is newest first and only grows at its head, so a photo is
//! identified by its *rank* (0 = oldest), which never changes, while page numbers shift as the
//! stream grows. The planner keeps a bitmap of known ranks and, after every page, re-derives
//! page numbers from the fresh `total`:
//!
//! * newest-index `i` (0 = newest) of rank `r` is `total - 1 - r`; page = `i / per_page + 1`.
//! * LIFO wants the highest unknown rank next, FIFO the lowest.
//! * Processing follows the same order and never overtakes the listing: in LIFO a photo may be
//!   processed once every newer rank is known, in FIFO once every older rank is known.

/// Mirror order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first (the default).
    #[default]
    Lifo,
    /// Oldest first.
    Fifo,
}

#[derive(Clone, Debug)]
pub struct Planner {
    order: Order,
    per_page: u32,
    /// Stream size as last reported by Flickr; `None` before the first page of this run.
    total: Option<u64>,
    known: Vec<bool>,
    known_count: u64,
    /// Ranks the listing was asked for but never delivered (inconsistent stream): skipped so
    /// the plan always ends.
    given_up: Vec<bool>,
}

impl Planner {
    pub fn new(order: Order, per_page: u32, known_ranks: &[i64]) -> Planner {
        let mut p = Planner {
            order,
            per_page: per_page.clamp(1, 500),
            total: None,
            known: Vec::new(),
            known_count: 0,
            given_up: Vec::new(),
        };
        for &r in known_ranks {
            p.mark_known(r);
        }
        p
    }

    pub fn order(&self) -> Order {
        self.order
    }

    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    pub fn total(&self) -> Option<u64> {
        self.total
    }

    pub fn known_count(&self) -> u64 {
        self.known_count
    }

    fn mark_known(&mut self, rank: i64) {
        if rank < 0 {
            return;
        }
        let r = rank as usize;
        if r >= self.known.len() {
            self.known.resize(r + 1, false);
        }
        if !self.known[r] {
            self.known[r] = true;
            self.known_count += 1;
        }
    }

    fn is_known(&self, rank: u64) -> bool {
        let r = rank as usize;
        self.known.get(r).copied().unwrap_or(false)
            || self.given_up.get(r).copied().unwrap_or(false)
    }

    /// Rank of the photo at `position` (0-based) of `page`, given the page's `total`.
    pub fn rank_of(total: u64, per_page: u32, page: u32, position: usize) -> i64 {
        let newest_index = (page.max(1) as u64 - 1) * per_page as u64 + position as u64;
        total as i64 - 1 - newest_index as i64
    }

    /// Page (1-based) that holds `rank` in a stream of `total`.
    pub fn page_of(&self, total: u64, rank: u64) -> u32 {
        let newest_index = total - 1 - rank;
        (newest_index / self.per_page as u64 + 1) as u32
    }

    /// The next unknown rank in mirror order, if any (needs a known total).
    pub fn next_unknown(&self) -> Option<u64> {
        let total = self.total?;
        match self.order {
            Order::Lifo => (0..total).rev().find(|&r| !self.is_known(r)),
            Order::Fifo => (0..total).find(|&r| !self.is_known(r)),
        }
    }

    /// The next page to fetch: page 1 first (it tells the total and holds the newest photos),
    /// then the page holding the next unknown rank; `None` when the stream is fully known.
    pub fn next_page(&self) -> Option<u32> {
        match self.total {
            None => Some(1),
            Some(total) => self.next_unknown().map(|r| self.page_of(total, r)),
        }
    }

    /// Records a fetched page: its `total` and the ranks it delivered. `wanted` is the rank the
    /// page was fetched for; when a page fetched for it still leaves it unknown (the stream
    /// shrank or is inconsistent) it is given up so the plan ends.
    pub fn apply_page(&mut self, total: u64, ranks: &[i64], wanted: Option<u64>) {
        self.total = Some(total);
        for &r in ranks {
            self.mark_known(r);
        }
        if let Some(w) = wanted {
            if !self.is_known(w) {
                let w = w as usize;
                if w >= self.given_up.len() {
                    self.given_up.resize(w + 1, false);
                }
                self.given_up[w] = true;
            }
        }
    }

    /// True when every rank below `total` is known (and a total was seen this run).
    pub fn listing_complete(&self) -> bool {
        self.total.is_some() && self.next_unknown().is_none()
    }

    /// The inclusive rank range that may be processed now without overtaking the listing.
    /// `None` when nothing may be processed yet.
    pub fn processable(&self) -> Option<(i64, i64)> {
        let total = self.total? as i64;
        if total == 0 {
            return None;
        }
        if self.listing_complete() {
            return Some((0, total - 1));
        }
        match self.order {
            Order::Lifo => {
                // Lowest rank f such that every rank in [f, total) is known.
                let mut f = total;
                while f > 0 && self.is_known((f - 1) as u64) {
                    f -= 1;
                }
                (f < total).then_some((f, total - 1))
            }
            Order::Fifo => {
                let mut c = 0;
                while c < total && self.is_known(c as u64) {
                    c += 1;
                }
                (c > 0).then_some((0, c - 1))
            }
        }
    }

    /// Forgets the total so that the next plan starts again from page 1 (a refresh).
    pub fn restart(&mut self) {
        self.total = None;
        self.given_up.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a stream of `total` photos and runs the planner to the end; returns pages.
    fn run(planner: &mut Planner, total: u64) -> Vec<u32> {
        let mut pages = vec![];
        while let Some(page) = planner.next_page() {
            let wanted = planner.next_unknown();
            pages.push(page);
            let pp = planner.per_page();
            let start = (page as u64 - 1) * pp as u64;
            let n = total.saturating_sub(start).min(pp as u64) as usize;
            let ranks: Vec<i64> = (0..n)
                .map(|j| Planner::rank_of(total, pp, page, j))
                .collect();
            planner.apply_page(total, &ranks, wanted);
            assert!(pages.len() < 10_000);
        }
        pages
    }

    #[test]
    fn lifo_fresh_lists_every_page_once_newest_first() {
        let mut p = Planner::new(Order::Lifo, 500, &[]);
        assert_eq!(run(&mut p, 1200), vec![1, 2, 3]);
        assert!(p.listing_complete());
        assert_eq!(p.known_count(), 1200);
    }

    #[test]
    fn fifo_fresh_starts_at_page_one_then_the_oldest() {
        let mut p = Planner::new(Order::Fifo, 500, &[]);
        assert_eq!(run(&mut p, 1200), vec![1, 3, 2]);
    }

    #[test]
    fn growth_costs_only_the_new_pages() {
        let known: Vec<i64> = (0..1200).collect();
        for order in [Order::Lifo, Order::Fifo] {
            let mut p = Planner::new(order, 500, &known);
            // 700 new photos: page 1 and 2 hold them.
            let pages = run(&mut p, 1900);
            assert_eq!(pages, vec![1, 2], "{order:?}");
            let mut p = Planner::new(order, 500, &known);
            assert_eq!(run(&mut p, 1200), vec![1], "no growth: one call");
        }
    }

    #[test]
    fn resume_fetches_only_pages_with_unknown_ranks() {
        // An interrupted LIFO run knew the newest 600 of 1200.
        let known: Vec<i64> = (600..1200).collect();
        let mut p = Planner::new(Order::Lifo, 500, &known);
        assert_eq!(run(&mut p, 1200), vec![1, 2, 3]);
        // page 2 covers ranks 200..=699 so it is needed; page 3 covers 0..=199.
        let known: Vec<i64> = (0..1000).collect();
        let mut p = Planner::new(Order::Lifo, 500, &known);
        assert_eq!(run(&mut p, 1200), vec![1]);
    }

    #[test]
    fn processable_never_overtakes_the_listing() {
        let mut p = Planner::new(Order::Lifo, 500, &[]);
        assert_eq!(p.processable(), None);
        let ranks: Vec<i64> = (0..500)
            .map(|j| Planner::rank_of(1200, 500, 1, j))
            .collect();
        p.apply_page(1200, &ranks, None);
        assert_eq!(p.processable(), Some((700, 1199)));
        let mut f = Planner::new(Order::Fifo, 500, &[]);
        f.apply_page(1200, &ranks, None);
        assert_eq!(f.processable(), None, "FIFO waits for the oldest page");
        let ranks: Vec<i64> = (0..200)
            .map(|j| Planner::rank_of(1200, 500, 3, j))
            .collect();
        f.apply_page(1200, &ranks, None);
        assert_eq!(f.processable(), Some((0, 199)));
    }

    #[test]
    fn growth_during_a_run_is_picked_up_lifo_first() {
        let mut p = Planner::new(Order::Lifo, 500, &[]);
        let ranks: Vec<i64> = (0..500)
            .map(|j| Planner::rank_of(1000, 500, 1, j))
            .collect();
        p.apply_page(1000, &ranks, None);
        // Stream grows by 10 before page 2 is fetched: page 2 of 1010 covers ranks 10..=509.
        let wanted = p.next_unknown();
        assert_eq!(wanted, Some(499));
        let ranks: Vec<i64> = (0..500)
            .map(|j| Planner::rank_of(1010, 500, 2, j))
            .collect();
        p.apply_page(1010, &ranks, wanted);
        // The 10 newest are unknown now and come next, on page 1.
        assert_eq!(p.next_unknown(), Some(1009));
        assert_eq!(p.next_page(), Some(1));
        let rest = run(&mut p, 1010);
        assert!(p.listing_complete());
        assert_eq!(p.known_count(), 1010);
        assert!(rest.len() <= 2, "{rest:?}");
    }

    #[test]
    fn an_inconsistent_stream_still_ends() {
        let mut p = Planner::new(Order::Lifo, 500, &[]);
        // Flickr says 10 photos but delivers 8.
        let ranks: Vec<i64> = (0..8).map(|j| Planner::rank_of(10, 500, 1, j)).collect();
        p.apply_page(10, &ranks, None);
        let mut guard = 0;
        while let Some(page) = p.next_page() {
            let w = p.next_unknown();
            assert_eq!(page, 1);
            p.apply_page(10, &ranks, w);
            guard += 1;
            assert!(guard <= 2);
        }
        assert!(p.listing_complete());
    }
}
