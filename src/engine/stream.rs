//! Downloads in progress, published so that a reader can be served the bytes as they arrive
//! instead of after the whole image: a descriptor of the partial file plus a watch of how much
//! of it is written and how the download ended.

use super::FetchError;
use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// How far a download has come.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Bytes of the partial file that are final (a restart from zero lowers it again).
    pub written: u64,
    /// Restarts from zero so far: bumped before the partial file is cut, so that a reader
    /// that sees the same count before and after its read knows its bytes were not cut.
    pub restarts: u64,
    /// `Some` once the download ended: Ok when the file is complete (and renamed into place).
    pub finished: Option<Result<(), FetchError>>,
}

/// A download a reader can follow.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The partial file itself, opened by the writer while it held the file's lock: never a
    /// path, because the path may name another file by the time a reader opens it (once the
    /// download is renamed into place, a waiting writer in another process creates a fresh,
    /// empty partial file under the same name). After the rename it is the final file.
    pub part: Arc<File>,
    pub progress: watch::Receiver<Progress>,
}

/// The downloads in progress, by photo id.
#[derive(Default)]
pub struct Streams {
    map: Mutex<HashMap<String, Stream>>,
    published: tokio::sync::Notify,
}

impl Streams {
    /// Publishes the download of `id` into the partial file `part` (a read-only descriptor of
    /// it); the returned publisher reports progress and withdraws the stream when dropped (as
    /// failed, unless it was finished).
    pub fn publish(&self, id: &str, part: File) -> Publisher<'_> {
        let (tx, rx) = watch::channel(Progress::default());
        let part = Arc::new(part);
        self.lock()
            .insert(id.to_string(), Stream { part, progress: rx });
        self.published.notify_waiters();
        Publisher {
            streams: self,
            id: id.to_string(),
            tx,
        }
    }

    /// Resolves at the next publication (create it before looking, then await it).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.published.notified()
    }

    pub fn get(&self, id: &str) -> Option<Stream> {
        self.lock().get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stream>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Publisher<'a> {
    streams: &'a Streams,
    id: String,
    tx: watch::Sender<Progress>,
}

impl Publisher<'_> {
    /// `n` bytes are final; fewer than before means the download restarts (say so before
    /// cutting the file).
    pub fn written(&self, n: u64) {
        self.tx.send_modify(|p| {
            if n < p.written {
                p.restarts += 1;
            }
            p.written = n;
        });
    }

    pub fn finish(self, result: Result<(), FetchError>) {
        self.tx.send_modify(|p| p.finished = Some(result));
    }
}

impl Drop for Publisher<'_> {
    fn drop(&mut self) {
        self.tx.send_modify(|p| {
            if p.finished.is_none() {
                p.finished = Some(Err(FetchError::Failed("the download stopped".into())));
            }
        });
        self.streams.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_lives_while_its_publisher_does() {
        let s = Streams::default();
        let p = s.publish("1", tempfile::tempfile().unwrap());
        let mut rx = s.get("1").unwrap().progress;
        p.written(10);
        assert_eq!(rx.borrow_and_update().written, 10);
        p.written(0);
        assert_eq!(rx.borrow().restarts, 1, "a restart is visible");
        p.written(10);
        assert_eq!(rx.borrow().restarts, 1);
        p.finish(Ok(()));
        assert!(s.get("1").is_none());
        assert!(matches!(rx.borrow().finished, Some(Ok(()))));
        let p = s.publish("2", tempfile::tempfile().unwrap());
        let rx = s.get("2").unwrap().progress;
        drop(p);
        assert!(matches!(rx.borrow().finished, Some(Err(_))));
    }

    /// The race that emptied reads through a mount beside a mirror: the download is renamed
    /// into place and another writer creates a fresh, empty partial file under the old name
    /// before a follower opens it. A follower reads the download's own file, whatever the
    /// name holds now.
    #[test]
    fn a_follower_reads_the_download_not_whatever_its_name_holds_now() {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.jpg.part");
        let mut writer = File::create(&part).unwrap();
        let s = Streams::default();
        let p = s.publish("1", File::open(&part).unwrap());
        writer.write_all(b"the whole image").unwrap();
        p.written(15);
        std::fs::rename(&part, dir.path().join("x.jpg")).unwrap();
        File::create(&part).unwrap(); // the next writer's empty partial file
        let stream = s.get("1").unwrap();
        p.finish(Ok(()));
        let mut buf = [0u8; 15];
        assert_eq!(stream.part.read_at(&mut buf, 0).unwrap(), 15);
        assert_eq!(&buf, b"the whole image");
    }
}
