//! Flickr API keys: where they come from (flags, environment, the 0600 keys file, a no-echo
//! prompt), saving them, and keeping them out of sight.

use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const KEYS_FILE: &str = "flickr_keys";
pub const ENV_KEY: &str = "FLICKR_API_KEY";
pub const ENV_SECRET: &str = "FLICKR_API_SECRET";

/// A consumer key and secret. Debug never shows them.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKeys {
    pub consumer_key: String,
    #[serde(default)]
    pub consumer_secret: String,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeys { <redacted> }")
    }
}

/// Where the keys were found (said in logs, without the keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Flags,
    Environment,
    File,
    Prompt,
}

pub fn keys_path(cache_path: &Path) -> PathBuf {
    cache_path.join(KEYS_FILE)
}

/// Reads the keys file, refusing one that others can read.
pub fn read_keys_file(path: &Path) -> Result<Option<ApiKeys>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is readable by other users; fix it with: chmod 600 {}",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let keys: ApiKeys = serde_json::from_str(&text)
        .map_err(|_| format!("{} is not a valid keys file (expected {{\"consumer_key\": ..., \"consumer_secret\": ...}})", path.display()))?;
    if keys.consumer_key.trim().is_empty() {
        return Err(format!("{} holds an empty consumer_key", path.display()));
    }
    Ok(Some(keys))
}

/// Writes the keys file atomically with mode 0600 (the cache directory is created 0700).
pub fn save_keys_file(cache_path: &Path, keys: &ApiKeys) -> Result<PathBuf, String> {
    crate::cache::files::ensure_private_dir(cache_path)
        .map_err(|e| crate::cache::files::describe_dir_error(cache_path, &e))?;
    let path = keys_path(cache_path);
    let tmp = cache_path.join(format!(
        ".{KEYS_FILE}.{}{}",
        std::process::id(),
        crate::cache::files::TEMP_SUFFIX
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(
            serde_json::to_string_pretty(keys)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot save {}: {e}", path.display())
    })?;
    Ok(path)
}

/// Finds the keys: flags, then the environment, then the keys file, then a no-echo prompt
/// when stdin is a terminal.
pub fn resolve(
    flag_key: Option<&str>,
    flag_secret: Option<&str>,
    cache_path: &Path,
) -> Result<(ApiKeys, KeySource), String> {
    if let Some(k) = flag_key.filter(|k| !k.is_empty()) {
        return Ok((
            ApiKeys {
                consumer_key: k.to_string(),
                consumer_secret: flag_secret.unwrap_or_default().to_string(),
            },
            KeySource::Flags,
        ));
    }
    if let Ok(k) = std::env::var(ENV_KEY) {
        if !k.is_empty() {
            return Ok((
                ApiKeys {
                    consumer_key: k,
                    consumer_secret: std::env::var(ENV_SECRET).unwrap_or_default(),
                },
                KeySource::Environment,
            ));
        }
    }
    if let Some(keys) = read_keys_file(&keys_path(cache_path))? {
        return Ok((keys, KeySource::File));
    }
    if std::io::stdin().is_terminal() {
        let key = rpassword::prompt_password("Flickr API key: ")
            .map_err(|e| format!("cannot read the key: {e}"))?;
        let secret = rpassword::prompt_password("Flickr API secret: ")
            .map_err(|e| format!("cannot read the secret: {e}"))?;
        if key.trim().is_empty() {
            return Err("no Flickr API key given".into());
        }
        return Ok((
            ApiKeys {
                consumer_key: key.trim().to_string(),
                consumer_secret: secret.trim().to_string(),
            },
            KeySource::Prompt,
        ));
    }
    Err(format!(
        "no Flickr API key: pass --consumer-key/--consumer-secret, set {ENV_KEY} and {ENV_SECRET}, or save them once with --save-api-keys (into {})",
        keys_path(cache_path).display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_file_is_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let keys = ApiKeys {
            consumer_key: "k".repeat(32),
            consumer_secret: "s".repeat(16),
        };
        let path = save_keys_file(&cache, &keys).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(read_keys_file(&path).unwrap(), Some(keys.clone()));
        assert!(!format!("{keys:?}").contains("kkkk"));
    }

    #[test]
    fn a_world_readable_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYS_FILE);
        std::fs::write(&path, r#"{"consumer_key":"a","consumer_secret":"b"}"#).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_keys_file(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let (k, src) = resolve(Some("abc"), Some("def"), dir.path()).unwrap();
        assert_eq!(src, KeySource::Flags);
        assert_eq!(k.consumer_key, "abc");
    }
}
