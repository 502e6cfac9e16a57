//! Scope strings (§7): split on whitespace, `,` and `|`; joined with single spaces, without
//! duplicates, first occurrence first.

pub fn split(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '|')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Requested, then granted, then required, then additional.
pub fn combine(lists: &[&[String]]) -> String {
    combine_by(lists, |a, b| a == b)
}

/// As [`combine`], for IdPs whose scopes compare without regard to case (Entra ID): the
/// first spelling is kept (`User.Read`, not also `user.read`).
pub fn combine_ignoring_case(lists: &[&[String]]) -> String {
    combine_by(lists, str::eq_ignore_ascii_case)
}

fn combine_by(lists: &[&[String]], same: fn(&str, &str) -> bool) -> String {
    let mut out: Vec<&str> = Vec::new();
    for scope in lists.iter().flat_map(|list| list.iter()) {
        if !out.iter().any(|kept| same(kept, scope)) {
            out.push(scope);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_and_combine_as_node_does() {
        assert_eq!(
            split("openid,profile|email  offline_access"),
            ["openid", "profile", "email", "offline_access"]
        );
        let requested = split("repo");
        let granted = split("read:user gist");
        let required = split("read:user");
        assert_eq!(
            combine(&[&requested, &granted, &required, &[]]),
            "repo read:user gist"
        );
        let frontend = split("openid offline_access profile email User.Read offline_access");
        let required = split("email openid offline_access user.read");
        assert_eq!(
            combine_ignoring_case(&[&frontend, &required]),
            "openid offline_access profile email User.Read"
        );
    }
}
