//! Where smith keeps things by default (XDG base directories): the data directory, the control
//! socket and the config file. A leaf, read by the sections that default to these paths, by
//! smithd and by `smith` (which finds the socket through the same configuration as smithd).

use std::path::PathBuf;

use crate::settings::home_dir;

/// `$HOME`, or `/` for paths that need a base.
fn home() -> PathBuf {
    home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(fallback))
}

/// `$XDG_DATA_HOME/smith`, else `~/.local/share/smith`.
pub fn default_data_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("smith")
}

/// `$XDG_RUNTIME_DIR/smith/smithd.sock`, else `<data dir>/run/smithd.sock`.
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("smith/smithd.sock"),
        None => default_data_dir().join("run/smithd.sock"),
    }
}

/// `$XDG_CONFIG_HOME/smith/smith.toml`, else `~/.config/smith/smith.toml`.
pub fn default_config_file() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("smith/smith.toml")
}
