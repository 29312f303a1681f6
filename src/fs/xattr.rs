//! Extended attributes of images and sidecars (in the hashed tree, so also through the views'
//! links), for file managers and desktop search: `user.xdg.origin.url` (the photo page),
//! `user.xdg.comment` (title and description), `user.xdg.tags` (comma-separated, as the XDG
//! convention has it), `user.flickr.id` and `user.flickr.title`. Empty values are left out.
//! Only the `user.` namespace is served: a name in any other (`security.selinux` and
//! `system.posix_acl_*`, which `ls -l` asks of every entry) is answered "not supported" at once,
//! without the index, which is what Linux says of a namespace a filesystem has no handler for.
//! `ls` remembers that answer for the whole device (coreutils' `getfilecon_cache`,
//! `file_has_acl_cache`) and stops asking, where "no such attribute" made it ask again for
//! every entry of every walk: one FUSE round trip per entry, the kernel caching no xattr.

use super::error::{Error, Result};
use super::inode::{node_of, Node};
use super::FlickrFs;

impl FlickrFs {
    /// The attributes of `ino` as (name, value), in listing order; none for other inodes.
    fn xattrs(&self, ino: u64) -> Result<Vec<(&'static str, String)>> {
        let rowid = match node_of(ino).ok_or_else(Error::not_found)? {
            Node::Image(r) | Node::Info(r) => r,
            _ => return Ok(Vec::new()),
        };
        let p = self.row(rowid)?;
        let comment = [p.title.trim(), p.description.trim()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        let tags = p.tags.split_whitespace().collect::<Vec<_>>().join(",");
        let all = [
            (
                "user.xdg.origin.url",
                crate::engine::sidecar::page_url(self.engine.owner(), &p.id),
            ),
            ("user.xdg.comment", comment),
            ("user.xdg.tags", tags),
            ("user.flickr.id", p.id.clone()),
            ("user.flickr.title", p.title.clone()),
        ];
        Ok(all.into_iter().filter(|(_, v)| !v.is_empty()).collect())
    }

    /// The value of attribute `name` of `ino`; `ENODATA` when it has none, `EOPNOTSUPP` for a
    /// name outside the `user.` namespace.
    pub fn getxattr(&self, ino: u64, name: &str) -> Result<Vec<u8>> {
        if !name.starts_with("user.") {
            return Err(Error::answer(libc::EOPNOTSUPP));
        }
        self.xattrs(ino)?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.into_bytes())
            .ok_or_else(|| Error::answer(libc::ENODATA))
    }

    /// The names of the attributes of `ino`, each followed by a NUL (listxattr's format).
    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (n, _) in self.xattrs(ino)? {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        Ok(out)
    }
}
