//! Every difference between Node and stagedoor that the test accepts, in one place.
//!
//! [`ALLOWED`]: differences stagedoor makes on purpose, each documented in the README section
//! named. [`PENDING_ISSUE_18`]: differences still to remove (issue 18); delete an entry when
//! its fix lands. Anything else fails the test.

use crate::compare::Diff;

pub struct Entry {
    /// What differs and why.
    pub why: &'static str,
    /// Where the README documents it (for [`ALLOWED`]) or the issue item (pending).
    pub reference: &'static str,
    pub matches: fn(&Diff) -> bool,
}

/// What the normalization leaves out before comparing (so not differences at all): random
/// values (tokens, codes, nonces, state, key ids; replaced by placeholders, equal ones by
/// equal placeholders), points in time, the backend's own port, and the IdP's discovery and
/// JWKS requests (each backend caches them its own way).
pub const NORMALIZED: &str = "random values, times, ports, discovery and JWKS fetches";

pub const ALLOWED: &[Entry] = &[];

/// (issue 18 item, description, matcher)
pub const PENDING_ISSUE_18: &[(u32, &str, fn(&Diff) -> bool)] = &[];

/// The entry that explains `diff`, as `allowed:<n>` or `pending:<item>`.
pub fn explain(diff: &Diff) -> Option<String> {
    if let Some(index) = ALLOWED.iter().position(|entry| (entry.matches)(diff)) {
        return Some(format!("allowed:{index}"));
    }
    PENDING_ISSUE_18
        .iter()
        .find(|(_, _, matches)| matches(diff))
        .map(|(item, _, _)| format!("pending:{item}"))
}
