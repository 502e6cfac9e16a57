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
    let mut out: Vec<&str> = Vec::new();
    for scope in lists.iter().flat_map(|list| list.iter()) {
        if !out.contains(&scope.as_str()) {
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
    }
}
