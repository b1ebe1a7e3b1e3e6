//! Owns the path rules shared by pack and unpack: splitting archive paths, the allow-list of
//! top-level locations, and the lexical symlink-target check against the environment layout.

/// Where an archive path lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// `database.sql`
    Db,
    /// `files/current` or `files/shared` or below
    Files,
}

/// Splits an archive path into components, dropping empty and `.` components.
/// Refuses absolute paths, `..` components and NUL bytes.
pub(crate) fn split_entry_path(path: &[u8]) -> Result<Vec<&[u8]>, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path[0] == b'/' {
        return Err("absolute path".into());
    }
    if path.contains(&0) {
        return Err("NUL byte in path".into());
    }
    let mut out = Vec::new();
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("`..` component".into()),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return Err("empty path".into());
    }
    Ok(out)
}

/// Classifies split components; `None` when outside database.sql / files/current / files/shared.
pub(crate) fn classify(components: &[&[u8]]) -> Option<Area> {
    match components {
        [b"database.sql"] => Some(Area::Db),
        [b"files", b"current", ..] | [b"files", b"shared", ..] => Some(Area::Files),
        _ => None,
    }
}

/// Checks that a symlink stored at `components` (under files/) with `target` stays inside the
/// environment once restored: `files/current/X` maps to `env/releases/R/X`, `files/shared/X` to
/// `env/shared/X`, and the target, resolved lexically from the link's directory, must never
/// leave `env/`.
pub(crate) fn check_symlink_target(components: &[&[u8]], target: &[u8]) -> Result<(), String> {
    if target.is_empty() {
        return Err("symlink with an empty target".into());
    }
    if target[0] == b'/' {
        return Err(format!(
            "symlink to the absolute path {:?}",
            String::from_utf8_lossy(target)
        ));
    }
    if target.contains(&0) {
        return Err("NUL byte in symlink target".into());
    }
    let mut stack: Vec<&[u8]> = vec![b"env"];
    match components {
        [b"files", b"current", rest @ ..] => {
            stack.push(b"releases");
            stack.push(b"R");
            stack.extend_from_slice(rest);
        }
        [b"files", b"shared", rest @ ..] => {
            stack.push(b"shared");
            stack.extend_from_slice(rest);
        }
        _ => return Err("symlink outside files/current and files/shared".into()),
    }
    // The link's own name is not part of its directory.
    stack.pop();
    if stack.is_empty() {
        return Err("symlink outside files/current and files/shared".into());
    }
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                stack.pop();
                if stack.is_empty() {
                    return Err(format!(
                        "symlink target {:?} escapes the environment",
                        String::from_utf8_lossy(target)
                    ));
                }
            }
            c => stack.push(c),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(p: &str) -> Vec<&[u8]> {
        split_entry_path(p.as_bytes()).unwrap()
    }

    #[test]
    fn splitting() {
        assert_eq!(
            comps("./files//current/a/"),
            vec![&b"files"[..], b"current", b"a"]
        );
        assert!(split_entry_path(b"/etc/passwd").is_err());
        assert!(split_entry_path(b"files/current/../../x").is_err());
        assert!(split_entry_path(b"..").is_err());
        assert!(split_entry_path(b"./").is_err());
        assert!(split_entry_path(b"").is_err());
    }

    #[test]
    fn classification() {
        assert_eq!(classify(&comps("database.sql")), Some(Area::Db));
        assert_eq!(classify(&comps("files/current")), Some(Area::Files));
        assert_eq!(
            classify(&comps("files/shared/uploads/a.jpg")),
            Some(Area::Files)
        );
        assert_eq!(classify(&comps("files")), None);
        assert_eq!(classify(&comps("files/other/x")), None);
        assert_eq!(classify(&comps("database.sql/x")), None);
        assert_eq!(classify(&comps("etc/passwd")), None);
    }

    #[test]
    fn symlink_targets() {
        let uploads = comps("files/current/wp-content/uploads");
        assert!(check_symlink_target(&uploads, b"../../../shared/uploads").is_ok());
        assert!(check_symlink_target(&uploads, b"../../../../env/shared").is_err());
        assert!(check_symlink_target(&uploads, b"../../../../../etc").is_err());
        assert!(check_symlink_target(&uploads, b"/etc").is_err());
        assert!(check_symlink_target(&uploads, b"").is_err());
        let top = comps("files/current/x");
        assert!(check_symlink_target(&top, b"../..").is_ok()); // env/
        assert!(check_symlink_target(&top, b"../../..").is_err());
        let shared = comps("files/shared/a");
        assert!(check_symlink_target(&shared, b"../current/index.php").is_ok());
        assert!(check_symlink_target(&shared, b"../../x").is_err());
        assert!(check_symlink_target(&comps("database.sql"), b"x").is_err());
    }
}
