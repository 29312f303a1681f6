//! Which listing request comes next, and which photos may be processed yet. Pure logic, no I/O.
//!
//! Photos are identified by id, never by position: a live stream loses photos anywhere, gains
//! them at the head and in the middle (photos made public late keep their old upload date), and
//! Flickr's pages can be short (privacy filtering) while `total` counts every photo. A pass
//! starts with page 1 of the stream (newest first) and decides from it, against what the index
//! knew at the end of the last complete pass:
//!
//! * unchanged (same `total`, no new photo on page 1): done, 1 call;
//! * growth at the head that page 1 holds (`total` grew by exactly the new photos, all newer than
//!   the newest known one): done, 1 call;
//! * growth beyond page 1: the photos uploaded at or after the newest known one
//!   (`min_upload_date`), pages 2.. of that query: ceil(K/500) + 1 calls; if the counts then
//!   disagree, a sweep follows;
//! * anything else, or when a sweep is due (first listing, `--rescan`, the last sweep older than
//!   `--rescan-after`): a **sweep**, every photo once, newest first, in windows of
//!   `max_upload_date`. A page boundary is an upload date, not a position, so deletions and
//!   insertions while the sweep runs cannot make it skip a photo (keyset paging). Its first
//!   page is page 1 above: a sweep costs about ceil(N/500) calls. At its end, the indexed
//!   photos it did not see are the deleted ones.
//!
//! Processing follows the mirror order and never overtakes the listing: in LIFO a photo may be
//! processed once the listing has reached its upload date; in FIFO once the listing is done.

/// Mirror order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first (the default).
    #[default]
    Lifo,
    /// Oldest first.
    Fifo,
}

/// One `flickr.people.getPhotos` request (newest first, `per_page` photos).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub page: u32,
    /// Only photos uploaded at or after this unix time.
    pub min_upload_date: Option<i64>,
    /// Only photos uploaded at or before this unix time.
    pub max_upload_date: Option<i64>,
}

impl Request {
    /// Page 1 of the whole stream: how every pass starts.
    pub fn first() -> Request {
        Request {
            page: 1,
            min_upload_date: None,
            max_upload_date: None,
        }
    }
}

/// What the index knew when the pass started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// The stream's `total` at the start of the last complete pass (`None`: never listed).
    pub total: Option<u64>,
    /// Upload date of the newest photo in the index that is still in the stream.
    pub newest: Option<i64>,
    /// A sweep is due whatever page 1 shows.
    pub sweep_due: bool,
}

/// What one page showed, as the listing saw it against the index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageSummary {
    /// The page number and page count of the query, as Flickr answered.
    pub page: u32,
    pub pages: u32,
    /// The query's `total`.
    pub total: u64,
    /// Photos on the page (fewer than `per_page` when pages are short).
    pub listed: usize,
    /// Photos the index did not know.
    pub new: usize,
    /// Every new photo was uploaded after [`Known::newest`].
    pub new_all_newer: bool,
    /// The oldest and the newest upload dates on the page.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Head { min: i64, page: u32 },
    Sweep { cursor: Option<i64>, page: u32 },
    Done,
}

#[derive(Clone, Debug)]
pub struct Planner {
    order: Order,
    known: Known,
    phase: Phase,
    /// `total` of page 1 in this pass.
    first_total: Option<u64>,
    /// New photos met in this pass.
    new: u64,
    /// The oldest upload date the listing reached in this pass.
    reached: Option<i64>,
    /// This pass is (or became) a sweep.
    sweeping: bool,
    /// Pages applied in this pass.
    requests: u32,
    /// The server ignores `max_upload_date` (a page held photos newer than asked): the sweep
    /// goes on by page number instead.
    by_position: bool,
}

impl Planner {
    pub fn new(order: Order, known: Known) -> Planner {
        Planner {
            order,
            known,
            phase: Phase::Start,
            first_total: None,
            new: 0,
            reached: None,
            sweeping: false,
            by_position: false,
            requests: 0,
        }
    }

    pub fn order(&self) -> Order {
        self.order
    }

    /// What the index knew when the pass started.
    pub fn known(&self) -> Known {
        self.known
    }

    /// The stream's `total` as page 1 of this pass said, if it was fetched.
    pub fn total(&self) -> Option<u64> {
        self.first_total
    }

    /// The next request, `None` when the pass is done.
    pub fn next_request(&self) -> Option<Request> {
        match self.phase {
            Phase::Start => Some(Request::first()),
            Phase::Head { min, page } => Some(Request {
                page,
                min_upload_date: Some(min),
                max_upload_date: None,
            }),
            Phase::Sweep { cursor, page } => Some(Request {
                page,
                min_upload_date: None,
                max_upload_date: cursor,
            }),
            Phase::Done => None,
        }
    }

    /// Pages applied so far in this pass.
    pub fn requests_made(&self) -> u32 {
        self.requests
    }

    /// Records what the last request's page showed.
    pub fn apply(&mut self, s: &PageSummary) {
        self.requests += 1;
        if let Some(o) = s.oldest {
            self.reached = Some(self.reached.map_or(o, |r| r.min(o)));
        }
        self.new += s.new as u64;
        let last_page = s.page >= s.pages;
        match self.phase {
            Phase::Start => {
                self.first_total = Some(s.total);
                if let (false, Some(known_total)) = (self.known.sweep_due, self.known.total) {
                    let new = s.new as u64;
                    let only_at_head = s.new == 0 || s.new_all_newer;
                    let whole_page_new = s.new > 0 && s.new == s.listed && !last_page;
                    if only_at_head && !whole_page_new && s.total == known_total + new {
                        // Unchanged, or grown by what page 1 holds.
                        self.phase = Phase::Done;
                        return;
                    }
                    if only_at_head && whole_page_new && s.total > known_total + new {
                        if let Some(newest) = self.known.newest {
                            // Grown beyond page 1: the rest of what came after the newest.
                            self.phase = Phase::Head {
                                min: newest,
                                page: 2,
                            };
                            return;
                        }
                    }
                }
                self.sweeping = true;
                self.advance_sweep(None, s);
            }
            Phase::Head { min, page } => {
                // No new photo on a page of the head: the rest is known (this also ends the
                // head of a server that ignores `min_upload_date`).
                if last_page || s.listed == 0 || s.new == 0 {
                    let expected = self.known.total.map(|t| t + self.new);
                    if expected.is_some() && expected == self.first_total {
                        self.phase = Phase::Done;
                    } else {
                        // The counts disagree: something else changed too.
                        self.sweeping = true;
                        self.reached = None;
                        self.phase = Phase::Sweep {
                            cursor: None,
                            page: 1,
                        };
                    }
                } else {
                    self.phase = Phase::Head {
                        min,
                        page: page + 1,
                    };
                }
            }
            Phase::Sweep { cursor, .. } => self.advance_sweep(cursor, s),
            Phase::Done => {}
        }
    }

    fn advance_sweep(&mut self, cursor: Option<i64>, s: &PageSummary) {
        if s.page >= s.pages {
            self.phase = Phase::Done;
            return;
        }
        if let (Some(c), Some(n)) = (cursor, s.newest) {
            if n > c && !self.by_position {
                // The filter was ignored: this was page 1 again. Go on by position.
                self.by_position = true;
                self.phase = Phase::Sweep {
                    cursor: None,
                    page: 2,
                };
                return;
            }
        }
        if self.by_position {
            self.phase = Phase::Sweep {
                cursor: None,
                page: s.page + 1,
            };
            return;
        }
        self.phase = match s.oldest {
            // The next window starts at this page's oldest upload date (inclusive: photos of
            // that second are listed again, never skipped).
            Some(oldest) if Some(oldest) != cursor => Phase::Sweep {
                cursor: Some(oldest),
                page: 1,
            },
            // A page of one single upload date, or an empty (all private) page: the next page
            // of the same window.
            _ => Phase::Sweep {
                cursor,
                page: s.page + 1,
            },
        };
    }

    /// True when the pass is done.
    pub fn listing_complete(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True when the pass was a sweep that saw the whole stream: indexed photos it did not see
    /// are deleted.
    pub fn swept(&self) -> bool {
        self.sweeping && self.phase == Phase::Done
    }

    /// True while the pass is a sweep.
    pub fn sweeping(&self) -> bool {
        self.sweeping
    }

    /// The upload dates that may be processed now without overtaking the listing, inclusive;
    /// `None` when nothing may be processed yet.
    pub fn processable(&self) -> Option<(i64, i64)> {
        if self.listing_complete() {
            return Some((i64::MIN, i64::MAX));
        }
        match self.order {
            Order::Lifo => self.reached.map(|r| (r, i64::MAX)),
            Order::Fifo => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of photos (upload dates, newest first) served as Flickr would, with the
    /// planner's requests; returns the requests made and the dates seen.
    fn run(planner: &mut Planner, stream: &[i64], known: &[i64]) -> (Vec<Request>, Vec<i64>) {
        let per_page = 3usize;
        let mut reqs = vec![];
        let mut seen = vec![];
        while let Some(r) = planner.next_request() {
            reqs.push(r);
            assert!(reqs.len() < 1000, "the plan never ends");
            let window: Vec<i64> = stream
                .iter()
                .copied()
                .filter(|d| r.min_upload_date.is_none_or(|m| *d >= m))
                .filter(|d| r.max_upload_date.is_none_or(|m| *d <= m))
                .collect();
            let pages = window.len().div_ceil(per_page).max(1) as u32;
            let start = (r.page as usize - 1) * per_page;
            let page: Vec<i64> = window.iter().copied().skip(start).take(per_page).collect();
            let new: Vec<i64> = page
                .iter()
                .copied()
                .filter(|d| !known.contains(d) && !seen.contains(d))
                .collect();
            let newest = known.iter().max().copied();
            planner.apply(&PageSummary {
                page: r.page,
                pages,
                total: window.len() as u64,
                listed: page.len(),
                new: new.len(),
                new_all_newer: new.iter().all(|d| newest.is_none_or(|n| *d > n)),
                oldest: page.iter().min().copied(),
                newest: page.iter().max().copied(),
            });
            seen.extend(page);
        }
        (reqs, seen)
    }

    fn known(total: u64, dates: &[i64]) -> Known {
        Known {
            total: Some(total),
            newest: dates.iter().max().copied(),
            sweep_due: false,
        }
    }

    #[test]
    fn a_first_listing_sweeps_every_photo_once() {
        let stream: Vec<i64> = (1..=10).rev().collect();
        let mut p = Planner::new(Order::Lifo, Known::default());
        let (reqs, mut seen) = run(&mut p, &stream, &[]);
        assert!(p.swept());
        seen.sort();
        seen.dedup();
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
        // 10 photos, 3 a page, windows overlap by the boundary date: 5 calls, not 4.
        assert_eq!(reqs.len(), 5, "{reqs:?}");
        assert_eq!(reqs[1].max_upload_date, Some(8));
    }

    #[test]
    fn an_unchanged_stream_costs_one_call() {
        let stream: Vec<i64> = (1..=10).rev().collect();
        let mut p = Planner::new(Order::Lifo, known(10, &stream));
        let (reqs, _) = run(&mut p, &stream, &stream);
        assert_eq!(reqs.len(), 1);
        assert!(p.listing_complete() && !p.swept());
    }

    #[test]
    fn growth_at_the_head() {
        let old: Vec<i64> = (1..=10).rev().collect();
        // Two new photos: page 1 holds them.
        let stream: Vec<i64> = (1..=12).rev().collect();
        let mut p = Planner::new(Order::Lifo, known(10, &old));
        let (reqs, _) = run(&mut p, &stream, &old);
        assert_eq!(reqs.len(), 1);
        assert!(!p.swept());
        // Seven new photos: page 1 and the pages of min_upload_date = newest known.
        let stream: Vec<i64> = (1..=17).rev().collect();
        let mut p = Planner::new(Order::Lifo, known(10, &old));
        let (reqs, seen) = run(&mut p, &stream, &old);
        assert!(!p.swept(), "{reqs:?}");
        assert!((11..=17).all(|d| seen.contains(&d)));
        assert_eq!(reqs[1].min_upload_date, Some(10));
        assert_eq!(reqs.len(), 3, "ceil(7/3) + ... {reqs:?}");
    }

    #[test]
    fn deletions_insertions_and_short_pages_force_a_sweep_that_sees_everything() {
        let old: Vec<i64> = (1..=20).rev().collect();
        // 5 deleted from the middle, 2 inserted in the middle (old dates 100+: none, they sit
        // between), 1 new at the head.
        let mut stream: Vec<i64> = old
            .iter()
            .copied()
            .filter(|d| !(8..=12).contains(d))
            .collect();
        stream.push(30); // new at the head
        stream.sort_by(|a, b| b.cmp(a));
        let mut p = Planner::new(Order::Lifo, known(20, &old));
        let (_, seen) = run(&mut p, &stream, &old);
        assert!(p.swept());
        for d in &stream {
            assert!(seen.contains(d), "{d} missed");
        }
        // Many photos of one second: the sweep pages through them.
        let stream = vec![9, 5, 5, 5, 5, 5, 5, 5, 1];
        let mut p = Planner::new(Order::Lifo, Known::default());
        let (reqs, seen) = run(&mut p, &stream, &[]);
        assert!(
            p.swept() && seen.contains(&1) && seen.contains(&9),
            "{reqs:?}"
        );
    }

    #[test]
    fn processing_never_overtakes_the_listing() {
        // Page 1 of 3 of a first listing, its photos uploaded between 70 and 90.
        let page1 = PageSummary {
            page: 1,
            pages: 3,
            total: 9,
            listed: 3,
            new: 3,
            new_all_newer: true,
            oldest: Some(70),
            newest: Some(90),
        };
        let mut p = Planner::new(Order::Lifo, Known::default());
        assert_eq!(p.processable(), None);
        p.apply(&page1);
        assert_eq!(p.processable(), Some((70, i64::MAX)));
        let mut f = Planner::new(Order::Fifo, Known::default());
        f.apply(&page1);
        assert_eq!(f.processable(), None, "FIFO waits for the oldest photos");
    }

    #[test]
    fn a_server_that_ignores_the_date_filter_is_swept_by_position() {
        let stream: Vec<i64> = (1..=10).rev().collect();
        let per_page = 3usize;
        let mut p = Planner::new(Order::Lifo, Known::default());
        let mut seen = vec![];
        let mut calls = 0;
        while let Some(r) = p.next_request() {
            calls += 1;
            assert!(calls < 50, "the plan never ends");
            let start = (r.page as usize - 1) * per_page;
            let page: Vec<i64> = stream.iter().copied().skip(start).take(per_page).collect();
            p.apply(&PageSummary {
                page: r.page,
                pages: 4,
                total: 10,
                listed: page.len(),
                new: page.iter().filter(|d| !seen.contains(*d)).count(),
                new_all_newer: true,
                oldest: page.iter().min().copied(),
                newest: page.iter().max().copied(),
            });
            seen.extend(page);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 10);
        assert!(calls <= 5, "{calls}");
    }

    #[test]
    fn a_due_sweep_runs_even_when_page_1_agrees() {
        let stream: Vec<i64> = (1..=10).rev().collect();
        let mut k = known(10, &stream);
        k.sweep_due = true;
        let mut p = Planner::new(Order::Lifo, k);
        let (reqs, _) = run(&mut p, &stream, &stream);
        assert!(p.swept());
        assert!(reqs.len() > 1);
    }
}
