//! The built-in Flickr emulator: REST methods, image host and control endpoints on 127.0.0.1.
