//! Where the data lives: the data directory `TIMInit` names, and one directory per user under
//! it for that user's SQLite store.

use std::path::{Path, PathBuf};

/// What `TIMInit` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) app_id: u64,
    pub(crate) data_dir: PathBuf,
}

impl Config {
    /// The directory of one user's store: `<data dir>/<app id>/<user id, made safe>`.
    pub(crate) fn user_dir(&self, user_id: &str) -> PathBuf {
        self.data_dir
            .join(self.app_id.to_string())
            .join(file_name_for(user_id))
    }
}

/// A directory name for a user ID: letters, digits, `-` and `_` stay, every other byte becomes
/// `%XX`, so that no two IDs share a directory and none can climb out (`..`, `/`).
pub(crate) fn file_name_for(user_id: &str) -> String {
    let mut name = String::with_capacity(user_id.len());
    for byte in user_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The default data directory: `$XDG_DATA_HOME/timconv`, else `$HOME/.local/share/timconv`,
/// else `timconv-data` in the current directory.
pub(crate) fn default_data_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(data) = var("XDG_DATA_HOME") {
        return Path::new(&data).join("timconv");
    }
    if let Some(home) = var("HOME") {
        return Path::new(&home).join(".local/share/timconv");
    }
    PathBuf::from("timconv-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_become_safe_distinct_names() {
        assert_eq!(file_name_for("alice_01-x"), "alice_01-x");
        assert_eq!(file_name_for("../evil/us er"), "%2E%2E%2Fevil%2Fus%20er");
        assert_eq!(
            file_name_for("%2E"),
            "%252E",
            "the escape character is escaped too"
        );
        assert_eq!(file_name_for("é"), "%C3%A9");
        let config = Config {
            app_id: 7,
            data_dir: PathBuf::from("/data"),
        };
        assert_eq!(config.user_dir(".."), Path::new("/data/7/%2E%2E"));
    }
}
