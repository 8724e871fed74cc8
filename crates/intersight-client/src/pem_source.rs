//! Where PEM material comes from: the setting's own text, or the file it names. One set of rules
//! for `secretkey` and `ca_certificate`:
//!
//! - a value holding a PEM marker (`-----BEGIN` or `-----END`) is PEM text;
//! - anything else is a path, with a leading `~/` (or a lone `~`) expanded from `HOME`, the way
//!   a shell would and the way the official provider's documentation writes key paths.
//!
//! A value that is not PEM text may still be key material (a key pasted without its BEGIN/END
//! lines), so [`describe_missing`] names a missing path only when its shape rules that out.

use std::path::{Path, PathBuf};

/// True when `value` holds a PEM marker, i.e. is meant as PEM text rather than a path.
pub(crate) fn has_pem_marker(value: &str) -> bool {
    value.contains("-----BEGIN") || value.contains("-----END")
}

/// `HOME` from the process environment (what `~/` expands to).
pub(crate) fn home_from_process() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The path a (trimmed) setting names: a leading `~/` or a lone `~` is replaced by `home`.
/// `None` when the value needs `home` and there is none. `~user/` forms are left as they are.
pub(crate) fn expand_home(value: &str, home: Option<&Path>) -> Option<PathBuf> {
    let value = value.trim();
    if value == "~" {
        return home.map(Path::to_path_buf);
    }
    match value.strip_prefix("~/") {
        Some(rest) => home.map(|h| h.join(rest)),
        None => Some(PathBuf::from(value)),
    }
}

/// The largest file `secretkey` or `ca_certificate` may name. A PEM key is a few kilobytes
/// and the system's whole CA bundle a few hundred; a file over this is not one, and reading a
/// multi-gigabyte file whole (3 GiB of memory, 12 s) to find that out helps nobody.
pub(crate) const MAX_PEM_FILE_BYTES: u64 = 1 << 20;
/// [`MAX_PEM_FILE_BYTES`] as messages write it.
pub(crate) const MAX_PEM_FILE_TEXT: &str = "1 MiB";

/// The contents of the file a path setting names.
#[derive(Debug)]
pub(crate) enum PathRead {
    /// The file's bytes.
    Read { bytes: Vec<u8> },
    /// The value names no regular file (or `~/` could not be expanded): see [`describe_missing`].
    Missing,
    /// The path exists but is not a regular file (a directory, a device such as `/dev/zero`,
    /// a FIFO).
    NotAFile { path: PathBuf },
    /// The file is larger than [`MAX_PEM_FILE_BYTES`]; nothing past the limit was read.
    TooLarge { path: PathBuf },
    /// The file exists but reading it failed.
    Unreadable { path: PathBuf, reason: String },
}

/// Reads the file named by `value` (trimmed, `~` expanded from `home`): a regular file of at
/// most [`MAX_PEM_FILE_BYTES`], whatever happens to the path meanwhile.
pub(crate) fn read_path(value: &str, home: Option<&Path>) -> PathRead {
    let Some(path) = expand_home(value, home) else {
        return PathRead::Missing;
    };
    if !path.is_file() {
        return if path.exists() {
            PathRead::NotAFile { path }
        } else {
            PathRead::Missing
        };
    }
    read_bounded(path, MAX_PEM_FILE_BYTES)
}

/// Reads the regular file at `path`, refusing one over `limit` bytes. The size is checked on
/// the opened file before reading, and at most `limit + 1` bytes are read, so a file that grows
/// meanwhile (or a `/proc` file that reports size 0) is bounded too. The file is opened
/// without blocking, so a FIFO put in its place cannot stall the provider: it is refused as
/// not a regular file.
fn read_bounded(path: PathBuf, limit: u64) -> PathRead {
    use std::io::Read as _;
    let unreadable = |path: PathBuf, e: std::io::Error| PathRead::Unreadable {
        path,
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match options.open(&path) {
        Ok(file) => file,
        Err(e) => return unreadable(path, e),
    };
    match file.metadata() {
        Ok(m) if !m.is_file() => return PathRead::NotAFile { path },
        Ok(m) if m.len() > limit => return PathRead::TooLarge { path },
        Ok(_) => {}
        Err(e) => return unreadable(path, e),
    }
    let mut bytes = Vec::new();
    match file.take(limit + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > limit => PathRead::TooLarge { path },
        Ok(_) => PathRead::Read { bytes },
        Err(e) => unreadable(path, e),
    }
}

/// Says that `value` names no file, quoting it only when it cannot be (a piece of) key material:
/// at most 1024 bytes, no control characters, runs of whitespace, quotes, `+` or `=`, no run of
/// 40 letters and digits, and a final component with a file extension (`name.ext`). Base64, the body of every PEM key, has no `.`,
/// so no verbatim fragment of a key body passes.
pub(crate) fn describe_missing(value: &str, home: Option<&Path>) -> String {
    let value = value.trim();
    let no_home = (value == "~" || value.starts_with("~/")) && home.is_none();
    if is_nameable_path(value) {
        if no_home {
            format!("no file exists at {value:?} (HOME is not set, so \"~/\" cannot be expanded)")
        } else {
            match expand_home(value, home) {
                Some(p) if p.as_os_str() != value => {
                    format!("no file exists at {value:?} (that is {:?})", p.display())
                }
                Some(p) if p.is_relative() => relative_note(value, std::env::current_dir().ok()),
                _ => format!("no file exists at {value:?}"),
            }
        }
    } else {
        format!(
            "is not the path of an existing file ({} characters, not shown)",
            value.chars().count()
        )
    }
}

/// A relative path is resolved from the provider's working directory, which Terraform sets to
/// the directory it runs in (the root module, or `-chdir`'s): say which one that was.
fn relative_note(value: &str, cwd: Option<PathBuf>) -> String {
    match cwd {
        Some(dir) => format!(
            "no file exists at {value:?} (a relative path, resolved from the directory Terraform runs in, {:?}: that is {:?}); give an absolute path, or one built with path.module",
            dir.display(),
            dir.join(value).display()
        ),
        None => format!(
            "no file exists at {value:?}, a relative path (the current directory is unknown); give an absolute path"
        ),
    }
}

/// Whether a value that names no file may be quoted in a message (see [`describe_missing`]).
pub(crate) fn is_nameable_path(value: &str) -> bool {
    if value.is_empty() || value.len() > 1024 || has_pem_marker(value) {
        return false;
    }
    if value
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\'' || c == '+' || c == '=')
    {
        return false;
    }
    if value.contains("  ") {
        return false;
    }
    // File names do not run 40 letters and digits without a separator; key bodies always do.
    let longest_run = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest_run >= 40 {
        return false;
    }
    // A piece of a key body cut short or broken up by a stray `.` or `/` has no 40-character
    // run, but its runs still look like base64: mixed case with digits, or case changing often.
    // File names rarely do; such a value is described without being quoted.
    if value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(looks_like_base64_run)
    {
        return false;
    }
    let last = value.rsplit(['/', '\\']).next().unwrap_or(value);
    let Some((stem, extension)) = last.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && (1..=10).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Whether a run of letters and digits reads like base64 rather than a word of a file name:
/// at least 8 characters with upper case, lower case and digits, or at least 12 whose case
/// changes 3 times or more (`SecretKey`: 9 characters, no digit, so it stays nameable).
fn looks_like_base64_run(run: &str) -> bool {
    let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
    let mixed = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    if run.len() >= 8 && mixed && has(char::is_ascii_digit) {
        return true;
    }
    let case_changes = run
        .as_bytes()
        .windows(2)
        .filter(|w| w[0].is_ascii_alphabetic() && w[1].is_ascii_alphabetic())
        .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
        .count();
    run.len() >= 12 && case_changes >= 3
}

/// True when `value` looks like the base64 body of a key pasted without its BEGIN/END lines:
/// only base64 characters and whitespace (quotes around it ignored), and long enough that no
/// path or short name fits.
pub(crate) fn looks_like_bare_base64(value: &str) -> bool {
    let value = strip_quotes(value.trim());
    let mut count = 0usize;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=' {
            count += 1;
        } else if !c.is_whitespace() {
            return false;
        }
    }
    count >= 64
}

/// `value` without one pair of matching surrounding quotes (`"…"` or `'…'`), as a value pasted
/// into a CI variable with its quotes often arrives.
pub(crate) fn strip_quotes(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(q)
            .and_then(|v| v.strip_suffix(q))
            .filter(|_| value.len() >= 2)
        {
            return inner;
        }
    }
    value
}

/// Why `ca_certificate` could not be read (PEM parsing is the caller's).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum CaSourceError {
    #[error("not PEM text, and no file exists at {given:?}{expanded}")]
    Missing { given: String, expanded: String },
    #[error("not PEM text, and the file {path:?} cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "not PEM text, and the file {path:?} is larger than {MAX_PEM_FILE_TEXT}, the most a \
         certificate file may be (a whole CA bundle is a few hundred kilobytes): check the path"
    )]
    TooLarge { path: String },
}

/// The PEM bytes of a `ca_certificate` setting: its own text, or the file it names (`~`
/// expanded from `home`). CA certificates are public, so the path is always named.
pub(crate) fn ca_certificate_pem(
    value: &str,
    home: Option<&Path>,
) -> Result<Vec<u8>, CaSourceError> {
    if has_pem_marker(value) {
        return Ok(value.as_bytes().to_vec());
    }
    match read_path(value, home) {
        PathRead::Read { bytes, .. } => Ok(bytes),
        PathRead::Unreadable { path, reason } => Err(CaSourceError::Unreadable {
            path: path.display().to_string(),
            reason,
        }),
        PathRead::TooLarge { path } => Err(CaSourceError::TooLarge {
            path: path.display().to_string(),
        }),
        PathRead::NotAFile { path } => Err(CaSourceError::Unreadable {
            path: path.display().to_string(),
            reason: "it is not a regular file".into(),
        }),
        PathRead::Missing => {
            let given = value.trim().to_string();
            let expanded = match expand_home(&given, home) {
                None => " (HOME is not set, so \"~/\" cannot be expanded)".to_string(),
                Some(p) if p.as_os_str() != given.as_str() => {
                    format!(" (that is {:?})", p.display())
                }
                Some(_) => String::new(),
            };
            Err(CaSourceError::Missing { given, expanded })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_expands_from_the_given_home_only_at_the_start() {
        let home = Path::new("/users/u");
        assert_eq!(
            expand_home(" ~/intersight/SecretKey.txt ", Some(home)),
            Some(PathBuf::from("/users/u/intersight/SecretKey.txt"))
        );
        assert_eq!(
            expand_home("~", Some(home)),
            Some(PathBuf::from("/users/u"))
        );
        assert_eq!(
            expand_home("/etc/~/x", Some(home)),
            Some(PathBuf::from("/etc/~/x"))
        );
        assert_eq!(
            expand_home("~other/x", Some(home)),
            Some(PathBuf::from("~other/x"))
        );
        assert_eq!(expand_home("~/x", None), None);
        assert_eq!(expand_home("rel/x", None), Some(PathBuf::from("rel/x")));
    }

    #[test]
    fn only_path_shapes_are_named() {
        for path in [
            "/no/such/key.pem",
            "~/intersight/SecretKey.txt",
            "C:\\keys\\SecretKey.txt",
            "keys/my key.pem",
        ] {
            assert!(is_nameable_path(path), "{path}");
        }
        for not_path in [
            "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUtta3D2G575ER6Vj",
            "/MIGHAgEAMBMGByqGSM49AgEGCC/qGSM49AwEHBG0wawIBAQ",
            "\"/keys/key.pem\"",
            "/keys/a  b.pem",
            "/keys/key.pem\nMIGH",
            "-----BEGIN x.pem",
            "/keys/key.",
            "/keys/.pem",
            "/keys/MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUtta3D2G575ER6Vj.pem",
            // A key body cut short with a stray `.` in it (found by the random mangles).
            "MHcCAQEEIPY7GN/thu.f1Wno",
            "AwEHoUQDQgAE/xKp.pem",
            "",
        ] {
            assert!(!is_nameable_path(not_path), "{not_path}");
        }
    }

    #[test]
    fn missing_paths_name_the_expansion() {
        let home = Path::new("/users/u");
        let msg = describe_missing("~/k.pem", Some(home));
        assert!(
            msg.contains("\"~/k.pem\"") && msg.contains("/users/u/k.pem"),
            "{msg}"
        );
        let msg = describe_missing("~/k.pem", None);
        assert!(msg.contains("HOME is not set"), "{msg}");
        let msg = describe_missing("MIGHAgEAMBMGByqGSM49/AgEGCCqGSM49", Some(home));
        assert!(!msg.contains("MIGH") && msg.contains("not shown"), "{msg}");
    }

    #[test]
    fn a_relative_missing_path_names_the_directory_it_was_resolved_from() {
        let cwd = std::env::current_dir().unwrap();
        let msg = describe_missing("keys/k.pem", Some(Path::new("/users/u")));
        let resolved = cwd.join("keys/k.pem");
        assert!(
            msg.contains("a relative path")
                && msg.contains(&format!("{:?}:", cwd.display()))
                && msg.contains(&format!("{:?}", resolved.display())),
            "{msg}"
        );
        let msg = relative_note("k.pem", None);
        assert!(
            msg.contains("relative path") && msg.contains("unknown"),
            "{msg}"
        );
        // Absolute paths say nothing about a directory.
        let msg = describe_missing("/keys/k.pem", None);
        assert_eq!(msg, "no file exists at \"/keys/k.pem\"");
    }

    #[test]
    fn bare_base64_is_recognised() {
        let body = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUtta3D2G575ER6Vj";
        assert!(looks_like_bare_base64(body));
        assert!(looks_like_bare_base64(&format!("\"{body}\"")));
        assert!(looks_like_bare_base64(&format!(
            "{} {}",
            &body[..30],
            &body[30..]
        )));
        assert!(!looks_like_bare_base64(
            "/users/user/intersight/SecretKey.txt"
        ));
        assert!(!looks_like_bare_base64("MIGH"));
    }

    #[test]
    fn files_over_the_limit_are_refused_before_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let at_limit = dir.path().join("at-limit.pem");
        std::fs::write(&at_limit, vec![b'a'; MAX_PEM_FILE_BYTES as usize]).unwrap();
        assert!(matches!(
            read_path(at_limit.to_str().unwrap(), None),
            PathRead::Read { bytes } if bytes.len() as u64 == MAX_PEM_FILE_BYTES
        ));
        let over = dir.path().join("over.pem");
        std::fs::write(&over, vec![b'a'; MAX_PEM_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            read_path(over.to_str().unwrap(), None),
            PathRead::TooLarge { path } if path == over
        ));
        // 3 GiB (sparse): refused from its size, at once, without reading it.
        let huge = dir.path().join("huge.pem");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(3 << 30)
            .unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            read_path("~/huge.pem", Some(dir.path())),
            PathRead::TooLarge { .. }
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let err = ca_certificate_pem(huge.to_str().unwrap(), None).unwrap_err();
        assert!(
            matches!(err, CaSourceError::TooLarge { .. }) && err.to_string().contains("1 MiB"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_reports_a_small_size_is_still_read_only_up_to_the_limit() {
        // /proc files report size 0 whatever they hold: the read itself stops at limit + 1.
        let status = PathBuf::from("/proc/self/status");
        if !status.exists() {
            return;
        }
        assert!(matches!(
            read_bounded(status.clone(), 16),
            PathRead::TooLarge { .. }
        ));
        assert!(matches!(
            read_bounded(status, MAX_PEM_FILE_BYTES),
            PathRead::Read { bytes } if bytes.len() > 16
        ));
    }

    #[test]
    fn devices_and_fifos_are_not_files_and_never_block() {
        for device in ["/dev/zero", "/dev/urandom"] {
            if Path::new(device).exists() {
                assert!(
                    matches!(read_path(device, None), PathRead::NotAFile { .. }),
                    "{device}"
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            // No writer ever opens it: opening it for reading must not wait for one.
            let started = std::time::Instant::now();
            assert!(matches!(
                read_path(fifo.to_str().unwrap(), None),
                PathRead::NotAFile { .. }
            ));
            assert!(matches!(
                read_bounded(fifo, MAX_PEM_FILE_BYTES),
                PathRead::NotAFile { .. }
            ));
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
    }

    #[test]
    fn ca_certificate_reads_text_or_expanded_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        std::fs::write(dir.path().join("certs/ca.pem"), b"PEM BYTES").unwrap();
        assert_eq!(
            ca_certificate_pem("~/certs/ca.pem", Some(dir.path())).unwrap(),
            b"PEM BYTES"
        );
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            ca_certificate_pem(text, None).unwrap(),
            text.as_bytes().to_vec()
        );
        let err = ca_certificate_pem("~/certs/other.pem", Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"~/certs/other.pem\"") && msg.contains("certs/other.pem\" (that is"),
            "{msg}"
        );
        let err = ca_certificate_pem("~/certs/ca.pem", None).unwrap_err();
        assert!(err.to_string().contains("HOME is not set"), "{err}");
    }
}
