//! flickrfs: a Flickr user's public photostream as files, mirrored (`mirror`) or mounted (`mount`).
//!
//! Layers (data flows down, nothing calls up): `cli` -> `fuse` -> `fs` -> `sync` -> `index` /
//! `store` -> `flickr` -> `label`. `emulator` is a self-contained Flickr stand-in for tests,
//! the demo and benchmarks.

pub mod emulator;
pub mod flickr;
pub mod label;
