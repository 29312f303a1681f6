//! Fault injection: the configurable fault rates, their control-endpoint parsing, and the
//! seeded per-request dice that decide which fault (if any) a request gets.

use super::data::Rng;
use serde::{Deserialize, Serialize};

/// Fault rates (0.0..=1.0) and parameters. All zero = a healthy server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Faults {
    /// REST and image requests: HTTP 503 with an HTML body.
    pub rate_5xx: f64,
    /// REST requests: HTTP 200 with Flickr error code 105 "Service currently unavailable".
    pub rate_105: f64,
    /// REST and image requests: HTTP 429 with `Retry-After: retry_after_secs`.
    pub rate_429: f64,
    pub retry_after_secs: u64,
    /// Image GET: send about half the body, then close the connection.
    pub drop_rate: f64,
    /// Added to every non-control request.
    pub latency_ms: u64,
    /// Image GET: the next this many are dropped like `drop_rate`'s, whatever the dice say
    /// (counted down as they happen).
    #[serde(default)]
    pub drop_next: u64,
    /// Image GET: `Range` is ignored (200 and the whole file), as HTTP lets any server do.
    #[serde(default)]
    pub ignore_range: bool,
    /// Image GET: the body goes out in 64 KiB pieces with this pause before each (a slow
    /// link).
    #[serde(default)]
    pub trickle_ms: u64,
}

/// The fault a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Http5xx,
    Code105,
    Http429,
    Drop,
}

impl Faults {
    /// Rolls the dice for request number `n`. `rest`: a REST call (105 possible);
    /// `image_get`: an image GET (drop possible).
    pub fn roll(&self, seed: u64, n: u64, rest: bool, image_get: bool) -> Fault {
        let mut rng = Rng::new(&[seed, 0xFA17, n]);
        let (a, b, c, d) = (
            rng.chance(self.rate_5xx),
            rng.chance(self.rate_429),
            rng.chance(self.rate_105),
            rng.chance(self.drop_rate),
        );
        if a {
            Fault::Http5xx
        } else if b {
            Fault::Http429
        } else if rest && c {
            Fault::Code105
        } else if image_get && d {
            Fault::Drop
        } else {
            Fault::None
        }
    }

    /// Applies `/_faults?...` parameters; unknown names and bad values are errors.
    pub fn apply_params(&mut self, params: &[(String, String)]) -> Result<(), String> {
        for (k, v) in params {
            let rate = || -> Result<f64, String> {
                v.parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("{k}: expected a rate between 0 and 1, got {v:?}"))
            };
            let int = || {
                v.parse::<u64>()
                    .map_err(|_| format!("{k}: expected an integer, got {v:?}"))
            };
            match k.as_str() {
                "rate_5xx" | "fault_5xx" => self.rate_5xx = rate()?,
                "rate_105" | "fault_105" => self.rate_105 = rate()?,
                "rate_429" | "fault_429" => self.rate_429 = rate()?,
                "drop_rate" | "fault_drop" => self.drop_rate = rate()?,
                "retry_after" | "retry_after_secs" => self.retry_after_secs = int()?,
                "latency_ms" => self.latency_ms = int()?,
                "drop_next" => self.drop_next = int()?,
                "ignore_range" => self.ignore_range = int()? != 0,
                "trickle_ms" => self.trickle_ms = int()?,
                _ => return Err(format!("unknown fault parameter {k:?}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_zero_and_one() {
        let none = Faults::default();
        let all = Faults {
            rate_105: 1.0,
            drop_rate: 1.0,
            ..Faults::default()
        };
        for n in 0..100 {
            assert_eq!(none.roll(1, n, true, true), Fault::None);
            assert_eq!(all.roll(1, n, true, false), Fault::Code105);
            assert_eq!(all.roll(1, n, false, true), Fault::Drop);
        }
    }

    #[test]
    fn params() {
        let mut f = Faults::default();
        f.apply_params(&[
            ("rate_5xx".into(), "0.5".into()),
            ("retry_after".into(), "3".into()),
        ])
        .unwrap();
        assert_eq!((f.rate_5xx, f.retry_after_secs), (0.5, 3));
        assert!(f.apply_params(&[("rate_5xx".into(), "2".into())]).is_err());
        assert!(f.apply_params(&[("bogus".into(), "1".into())]).is_err());
    }
}
