//! Files that hold private keys: created once, readable by the owner only, in a
//! directory only the owner may write to (made 0700 when the server creates it; an
//! existing one is checked, never changed). Used for the token signing keys, the access log's
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

/// Makes sure `dir` is fit to hold private keys. A folder that does not exist is created
/// (with any missing parents) private to the server's user (0700). A folder that exists is
/// never changed: the server does not own what an administrator (or the system: `/tmp`,
/// `/etc`) made, and changing its mode could break whatever else lives there. It is
/// refused instead when other users may write to it (group or others have write
/// permission): whoever may write there may put a key of their own in place before the
/// server creates it, or swap it later.
#[cfg(unix)]
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    match fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(std::io::Error::other(format!("{} is not a folder", dir.display())));
            }
            let mode = meta.permissions().mode();
            if mode & 0o022 != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{} (mode {:o}) may be written by other users: a key file must be in a folder only the                          server's user may write to (`chmod go-w` it, or name a file in a folder of its own)",
                        dir.display(),
                        mode & 0o7777
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            // The umask may have taken bits away, never added any; this is the folder just
            // made, so its mode is ours to set.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sitrep-keyfile-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_missing_folder_is_created_private_with_its_parents() {
        let root = scratch();
        let dir = root.join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.join("a")), 0o700);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_existing_folder_is_never_changed_and_refused_when_others_may_write_to_it() {
        let root = scratch();
        for (before, accepted) in [(0o755, true), (0o750, true), (0o700, true), (0o775, false), (0o1777, false)] {
            let dir = root.join(format!("{before:o}"));
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(before)).unwrap();
            let got = private_dir(&dir);
            assert_eq!(got.is_ok(), accepted, "{before:o}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains("may be written by other users"), "{e}");
            }
            assert_eq!(mode(&dir), before, "the mode of an existing folder was changed");
        }
        // A file where the folder should be.
        let file = root.join("file");
        fs::write(&file, b"x").unwrap();
        assert!(private_dir(&file).is_err());
        fs::remove_dir_all(root).unwrap();
    }
}
