//! The Flickr REST client: typed calls, lenient parsing, retries, rate limit and call counters.

mod client;
mod error;
mod html;
mod ratelimit;
mod types;

pub use client::{is_nsid, ClientOptions, FlickrApi, DEFAULT_API_URL, LISTING_EXTRAS};
pub use error::FlickrError;
pub use html::decode_entities;
pub use ratelimit::RateLimiter;
pub use types::{FlickrUser, PhotoInfo, PhotoPage, Photoset};
