//! The Flickr REST client: typed calls, lenient parsing, retries, rate limit (a priority
//! queue in front of a token bucket) and call counters.

pub mod breaker;
pub mod budget;
mod client;
mod error;
mod html;
pub mod priority;
mod ratelimit;
mod types;

pub use client::{is_nsid, ClientOptions, FlickrApi, DEFAULT_API_URL, LISTING_EXTRAS};
pub use error::{transport_message, FlickrError};
pub use html::decode_entities;
pub use ratelimit::RateLimiter;
pub use types::{FlickrUser, PhotoInfo, PhotoPage, Photoset};
