//! Inode numbers: what each one names, encoded in the number itself so that no table is needed
//! and inodes stay the same across remounts.
//!
//! 1 root, 2 `.flickrfs`, 3 `.flickrfs/status`, 4 `.flickrfs/search`; a search directory
//! `.flickrfs/search/<query>` is `SEARCH_TAG | q`, its links `LINK_TAG | q << 32 | hit << 1 |
//! json`; a hashed directory with prefix `p` (L hex chars) is `DIR_TAG | L << 32 | value(p)`; a
//! photo with index rowid `r` has image `PHOTO_TAG | r << 1` and sidecar `PHOTO_TAG | r << 1 |
//! 1`. Rowids never change, so inodes are stable across remounts.
//!
//! The views for people: 5 `albums`, 6 `dates`, 7 `tags`, 8 `README.txt`; a view directory
//! below them is `VIEW_DIR_TAG | d` (d: its number in the mount's table of view directory
//! paths, see `views`), and a link in it to photo `r` is `VIEW_LINK_TAG | d << 32 | r << 1 |
//! json`. View inodes are stable for the life of a mount.

pub const ROOT_INO: u64 = 1;
pub const META_INO: u64 = 2;
pub const STATUS_INO: u64 = 3;
pub const SEARCH_INO: u64 = 4;
pub const ALBUMS_INO: u64 = 5;
pub const DATES_INO: u64 = 6;
pub const TAGS_INO: u64 = 7;
pub const README_INO: u64 = 8;
const VIEW_DIR_TAG: u64 = 5 << 56;
const VIEW_LINK_TAG: u64 = 6 << 56;
pub const README_NAME: &str = "README.txt";
const DIR_TAG: u64 = 1 << 56;
const PHOTO_TAG: u64 = 2 << 56;
const SEARCH_TAG: u64 = 3 << 56;
const LINK_TAG: u64 = 4 << 56;
pub const META_NAME: &str = ".flickrfs";
pub const STATUS_NAME: &str = "status";
pub const SEARCH_NAME: &str = "search";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Node {
    Root,
    Meta,
    Status,
    Dir {
        len: u32,
        value: u32,
    },
    Image(i64),
    Info(i64),
    SearchRoot,
    Search(u32),
    Link {
        query: u32,
        hit: u32,
        json: bool,
    },
    /// `albums`, `dates`, `tags` or a directory below them, by number (see `views`).
    ViewDir(u32),
    ViewLink {
        dir: u32,
        rowid: i64,
        json: bool,
    },
    Readme,
}

pub(super) fn node_of(ino: u64) -> Option<Node> {
    match ino {
        ROOT_INO => Some(Node::Root),
        META_INO => Some(Node::Meta),
        STATUS_INO => Some(Node::Status),
        SEARCH_INO => Some(Node::SearchRoot),
        ALBUMS_INO => Some(Node::ViewDir(1)),
        DATES_INO => Some(Node::ViewDir(2)),
        TAGS_INO => Some(Node::ViewDir(3)),
        README_INO => Some(Node::Readme),
        _ if ino & (0xff << 56) == VIEW_DIR_TAG => Some(Node::ViewDir(ino as u32)),
        _ if ino & (0xff << 56) == VIEW_LINK_TAG => Some(Node::ViewLink {
            dir: ((ino >> 32) & 0xff_ffff) as u32,
            rowid: ((ino as u32) >> 1) as i64,
            json: ino & 1 == 1,
        }),
        _ if ino & (0xff << 56) == SEARCH_TAG => Some(Node::Search(ino as u32)),
        _ if ino & (0xff << 56) == LINK_TAG => Some(Node::Link {
            query: ((ino >> 32) & 0xff_ffff) as u32,
            hit: (ino as u32) >> 1,
            json: ino & 1 == 1,
        }),
        _ if ino & (0xff << 56) == DIR_TAG => Some(Node::Dir {
            len: ((ino >> 32) & 0xff) as u32,
            value: ino as u32,
        }),
        _ if ino & (0xff << 56) == PHOTO_TAG => {
            let r = ((ino & !(0xff << 56)) >> 1) as i64;
            Some(if ino & 1 == 0 {
                Node::Image(r)
            } else {
                Node::Info(r)
            })
        }
        _ => None,
    }
}

pub(super) fn dir_ino(prefix: &str) -> u64 {
    let value = u32::from_str_radix(prefix, 16).unwrap_or(0);
    DIR_TAG | ((prefix.len() as u64) << 32) | value as u64
}

/// True for a directory of the hashed tree (not the root).
pub(super) fn is_dir(ino: u64) -> bool {
    ino & (0xff << 56) == DIR_TAG
}

pub(super) fn dir_prefix(len: u32, value: u32) -> String {
    if len == 0 {
        String::new()
    } else {
        format!("{value:0width$x}", width = len as usize)
    }
}

pub(super) fn image_ino(rowid: i64) -> u64 {
    PHOTO_TAG | ((rowid as u64) << 1)
}

pub(super) fn info_ino(rowid: i64) -> u64 {
    PHOTO_TAG | ((rowid as u64) << 1) | 1
}

pub(super) fn search_ino(query: u32) -> u64 {
    SEARCH_TAG | query as u64
}

pub(super) fn link_ino(query: u32, hit: u32, json: bool) -> u64 {
    LINK_TAG | (query as u64) << 32 | (hit as u64) << 1 | json as u64
}

/// View directory number `d`: 1, 2 and 3 are `albums`, `dates` and `tags`.
pub(super) fn view_dir_ino(d: u32) -> u64 {
    match d {
        1 => ALBUMS_INO,
        2 => DATES_INO,
        3 => TAGS_INO,
        _ => VIEW_DIR_TAG | d as u64,
    }
}

/// A link in view directory `dir` to photo `rowid` (rowids below 2^31, directories below
/// 2^24: a mount of a billion photos is not expected).
pub(super) fn view_link_ino(dir: u32, rowid: i64, json: bool) -> u64 {
    VIEW_LINK_TAG
        | ((dir as u64) & 0xff_ffff) << 32
        | ((rowid as u64) & 0x7fff_ffff) << 1
        | json as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_round_trip() {
        assert_eq!(
            node_of(dir_ino("f")),
            Some(Node::Dir { len: 1, value: 0xf })
        );
        assert_eq!(
            node_of(dir_ino("0a3f")),
            Some(Node::Dir {
                len: 4,
                value: 0x0a3f
            })
        );
        assert_eq!(dir_prefix(4, 0x0a3f), "0a3f");
        assert_eq!(node_of(image_ino(12345)), Some(Node::Image(12345)));
        assert_eq!(node_of(info_ino(12345)), Some(Node::Info(12345)));
        assert_eq!(node_of(ROOT_INO), Some(Node::Root));
        assert_eq!(node_of(999), None);
        assert_eq!(node_of(view_dir_ino(2)), Some(Node::ViewDir(2)));
        assert_eq!(node_of(view_dir_ino(77)), Some(Node::ViewDir(77)));
        assert_eq!(
            node_of(view_link_ino(77, 123_456, true)),
            Some(Node::ViewLink {
                dir: 77,
                rowid: 123_456,
                json: true
            })
        );
    }
}
