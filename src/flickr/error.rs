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
    /// A setting that can never work (an API URL that is not http or https): said as is.
    Config(String),
    /// The call would have waited longer for the rate limit than its caller may (a person's
    /// request under the mount's `--fuse-wait`): nothing was sent.
    RateLimited { wait: std::time::Duration },
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
            FlickrError::Config(m) => f.write_str(m),
            FlickrError::RateLimited { wait } => write!(
                f,
                "the API rate limit allows the next call in {}s; not waiting that long (try again later)",
                wait.as_secs().max(1)
            ),
        }
    }
}

impl std::error::Error for FlickrError {}

/// A transport failure in words a person can act on: reqwest's own ("error sending request")
/// says nothing, so the innermost cause joins it ("Connection refused", "dns error: ...").
/// The URL (which holds the API key) is dropped; the causes are socket and TLS errors that
/// never hold it.
pub fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut cause: Option<String> = None;
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        cause = Some(s.to_string());
        src = s.source();
    }
    if let Some(c) = cause.filter(|c| !msg.contains(c.as_str())) {
        msg = format!("{msg}: {c}");
    }
    if e.is_timeout() && !msg.contains("timed out") {
        msg.push_str(" (timed out)");
    }
    msg
}
