//! Failures met outside a photo's own fetch (a read through the mount answered with an
//! error, a sync that failed, a full disk), recorded in the index so that `status` and the
//! mount's status file count them. Recorded off the caller's thread: a FUSE thread or an async
//! worker never waits for the index's write lock to report that something went wrong.

use super::Engine;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Records being written at once, at most; a flood of failures beyond (every read of an
/// outage) loses its extra records, never a thread or a reply's time.
const MAX_IN_FLIGHT: usize = 4;

impl Engine {
    /// Records `message` (about `photo_id`, when it is a photo's) in the index, in the
    /// background.
    pub fn note_failure(self: &Arc<Self>, photo_id: Option<&str>, message: &str) {
        if self.failures_in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.failures_in_flight.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let engine = self.clone();
        let (id, msg) = (photo_id.map(str::to_owned), message.to_owned());
        let record = move || {
            engine.index.record_failure(id.as_deref(), &msg);
            engine.failures_in_flight.fetch_sub(1, Ordering::SeqCst);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(record);
            }
            Err(_) => {
                std::thread::spawn(record);
            }
        }
    }
}
