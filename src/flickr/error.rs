//! Typed Flickr errors: API failures with Flickr's code and message, HTTP statuses,
//! transport trouble and unreadable bodies. No variant ever carries a request URL (it holds
//! the API key).

/// What went wrong with a Flickr call (after retries where retrying made sense).
#[derive(Debug)]
pub enum FlickrError {
    /// `{"stat":"fail","code":N,"message":"..."}`: Flickr's own words, verbatim.
    Api { code: i64, message: String },
    /// An HTTP status that retries did not get past.
    Http { status: u16 },
    /// Connection, timeout or reset; never contains the URL.
    Transport(String),
    /// A body that is not the JSON Flickr promises.
    InvalidResponse(String),
}

impl FlickrError {
    /// Flickr code 100: the API key is invalid.
    pub fn is_invalid_key(&self) -> bool {
        self.code() == Some(100)
    }

    pub fn code(&self) -> Option<i64> {
        match self {
            FlickrError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth another attempt: Flickr's transient codes (0, 105, 201).
    pub(crate) fn is_transient_api(&self) -> bool {
        matches!(self.code(), Some(0) | Some(105) | Some(201))
    }
}

impl std::fmt::Display for FlickrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlickrError::Api { code, message } => write!(f, "{message} (Flickr error {code})"),
            FlickrError::Http { status } => write!(f, "Flickr answered HTTP {status}"),
            FlickrError::Transport(m) => write!(f, "cannot reach Flickr: {m}"),
            FlickrError::InvalidResponse(m) => write!(f, "unexpected answer from Flickr: {m}"),
        }
    }
}

impl std::error::Error for FlickrError {}
