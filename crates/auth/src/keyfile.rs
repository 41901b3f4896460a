//! Files that hold private keys: created once, readable by the owner only, in a
//! directory only the owner may enter. Used for the token signing keys, the access log's
//! checkpoint key and the self-signed TLS key.

use std::fs;
use std::path::Path;

/// Creates `path` for writing, failing if it exists (so two processes starting at once
/// cannot overwrite each other's key), mode 0600.
#[cfg(unix)]
pub fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
pub fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// Makes `dir` private to its owner (0700).
#[cfg(unix)]
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
pub fn restrict_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
