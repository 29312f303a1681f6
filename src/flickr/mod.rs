//! The Flickr REST client: typed calls, lenient parsing, retries, rate limit and call counters.
