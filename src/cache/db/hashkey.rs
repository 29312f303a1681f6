//! The hash key: how the index finds photos by their place in the hashed tree without holding
//! the tree in memory. A photo's key is the first 8 bytes of the MD5 of its id (the first 16
//! hex characters of its file name), big-endian, with the sign bit flipped so that SQLite's
//! signed integer order is the hex order. A directory of the tree (a hex prefix of at most 16
//! characters) is then one range of keys, and a file name one key (checked against the full
//! hash, since two ids may share 64 bits).

use md5::{Digest, Md5};

const FLIP: u64 = 1 << 63;

/// The key of photo `id`.
pub fn of_id(id: &str) -> i64 {
    let d = Md5::digest(id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) ^ FLIP) as i64
}

/// The key of a hex hash (or of any hex prefix, padded with zeros); `None` when `hex` is not
/// lowercase hex.
pub fn of_hex(hex: &str) -> Option<i64> {
    let head = &hex[..hex.len().min(16)];
    if !head
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let v = if head.is_empty() {
        0
    } else {
        u64::from_str_radix(head, 16).ok()? << (64 - 4 * head.len() as u32)
    };
    Some((v ^ FLIP) as i64)
}

/// The keys of every hash that starts with `prefix` (at most 16 hex characters): `lo..hi`, or
/// `lo..` (no upper bound) for the last prefix of its length (`f`, `ff`...).
pub fn range(prefix: &str) -> Option<(i64, Option<i64>)> {
    if prefix.len() > 16 {
        return None;
    }
    let lo = of_hex(prefix)?;
    if prefix.is_empty() {
        return Some((lo, None));
    }
    let width = 1u64 << (64 - 4 * prefix.len() as u32);
    let hi = ((lo as u64) ^ FLIP)
        .checked_add(width)
        .map(|h| (h ^ FLIP) as i64);
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_hex_and_ranges_hold_their_prefix() {
        let mut ids: Vec<String> = (0..2000).map(|i| format!("{}", 7_000_000 + i)).collect();
        ids.sort_by_key(|id| crate::photo::hash(id));
        let keys: Vec<i64> = ids.iter().map(|id| of_id(id)).collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "key order = hex order"
        );
        for id in &ids {
            let h = crate::photo::hash(id);
            assert_eq!(of_hex(&h), Some(of_id(id)));
            for len in 0..=4 {
                let (lo, hi) = range(&h[..len]).unwrap();
                let k = of_id(id);
                assert!(
                    k >= lo && hi.is_none_or(|hi| k < hi),
                    "{h} in {}",
                    &h[..len]
                );
            }
        }
        assert_eq!(range("f").unwrap().1, None);
        assert_eq!(range("ffff").unwrap().1, None);
        assert_eq!(range("0").unwrap(), (i64::MIN, Some(i64::MIN + (1 << 60))));
        assert_eq!(range("7").unwrap().1, Some(0), "8... starts at key 0");
        assert_eq!(range("").unwrap(), (i64::MIN, None));
        assert_eq!(of_hex("ABC"), None);
        assert_eq!(range(&"a".repeat(17)), None);
        // A prefix's range holds no hash of a neighbouring prefix.
        let (lo, hi) = range("3a").unwrap();
        assert!(of_hex("39ffffffffffffff").unwrap() < lo);
        assert_eq!(of_hex("3b").unwrap(), hi.unwrap());
    }
}
