//! Request paths as Salesforce takes them.
//!
//! Salesforce answers `https://host//services/data/...` (a doubled slash, which a client produces
//! when it stores an instance URL with a trailing slash) as if the slashes were one. The emulator
//! rewrites every request's path so before routing.
//!
//! Invariant: a normalized path starts with exactly one `/` and never holds two slashes in a row;
//! the query string is kept byte for byte.

use axum::http::Uri;

/// `path` with every run of slashes folded into one (`/` when empty).
pub fn fold_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    out
}

/// `uri` with its path folded by [`fold_slashes`]; `None` when it is already normal (or the
/// rewritten form would not parse, which cannot happen for a path that parsed before).
pub fn normalize(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if !path.contains("//") && path.starts_with('/') {
        return None;
    }
    let folded = fold_slashes(path);
    let path_and_query = match uri.query() {
        Some(q) => format!("{folded}?{q}"),
        None => folded,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_runs_of_slashes_and_keeps_the_query() {
        let uri: Uri = "//services//data/v66.0/query?q=SELECT+Id+FROM+Account//x"
            .parse()
            .unwrap_or_default();
        let n = normalize(&uri).map(|u| u.to_string());
        assert_eq!(
            n.as_deref(),
            Some("/services/data/v66.0/query?q=SELECT+Id+FROM+Account//x")
        );
        assert_eq!(normalize(&"/services/data".parse().unwrap_or_default()), None);
        assert_eq!(fold_slashes(""), "/");
    }
}
