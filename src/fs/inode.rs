//! Inode numbers: what each one names, encoded in the number itself so that no table is needed
//! and inodes stay the same across remounts.
//!
//! 1 root, 2 `.flickrfs`, 3 `.flickrfs/status`, 4 `.flickrfs/search`; a search directory
//! `.flickrfs/search/<query>` is `SEARCH_TAG | q`, its links `LINK_TAG | q << 32 | hit << 1 |
//! json`; a hashed directory with prefix `p` (L hex chars) is `DIR_TAG | L << 32 | value(p)`; a
//! photo with index rowid `r` has image `PHOTO_TAG | r << 1` and sidecar `PHOTO_TAG | r << 1 |
//! 1`. Rowids never change, so inodes are stable across remounts.

pub const ROOT_INO: u64 = 1;
pub const META_INO: u64 = 2;
pub const STATUS_INO: u64 = 3;
pub const SEARCH_INO: u64 = 4;
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
    Dir { len: u32, value: u32 },
    Image(i64),
    Info(i64),
    SearchRoot,
    Search(u32),
    Link { query: u32, hit: u32, json: bool },
}

pub(super) fn node_of(ino: u64) -> Option<Node> {
    match ino {
        ROOT_INO => Some(Node::Root),
        META_INO => Some(Node::Meta),
        STATUS_INO => Some(Node::Status),
        SEARCH_INO => Some(Node::SearchRoot),
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
    }
}
