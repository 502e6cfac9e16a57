//! The OAuth 2.0 / OpenID Connect sign-in flows shared by every OAuth provider (§3.1–3.4, §4–§7).

pub mod cookies;
pub mod flow;
pub mod frame;
pub mod id_token;
pub mod idp;
pub mod origin;
pub mod scopes;
pub mod sealed;
pub mod state;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// `encodeURIComponent`'s set, plus `'` (Node escapes it in the frame page too).
pub(crate) const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');
