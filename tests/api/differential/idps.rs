//! The IdP a case runs against: the OpenID Provider of `tests/idp/` shaped as a product, or
//! a fake of `tests/fakes/` (the code-hosting providers). Both record what they receive; this
//! gives the two the same face for the scenarios (the account to log in with, the trip
//! through the IdP, the requests received in one shape, injected failures).

use serde_json::{Map, Value, json};

use crate::common::{fakes::Fake, idp::Idp};

/// The accounts the scenarios log in with, as the IdP knows them.
pub struct Accounts {
    pub alice: &'static str,
    /// In the IdP, not in the catalog.
    pub nobody: &'static str,
    /// Without the email the email resolvers need.
    pub noemail: &'static str,
}

pub enum CaseIdp {
    Op(Idp),
    Fake {
        fake: Fake,
        /// The hosts Node's module hard-codes for this IdP (sent to the fake by
        /// `redirect-hosts.cjs`), written as the fake's base in transcripts.
        hosts: &'static [&'static str],
    },
}

impl CaseIdp {
    /// `scheme://host:port[/path]`: the OP's issuer, the fake's base.
    pub fn base(&self) -> &str {
        match self {
            Self::Op(idp) => &idp.issuer,
            Self::Fake { fake, .. } => &fake.base,
        }
    }

    /// The issuer the callback names (RFC 9207), for an OpenID Provider.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Self::Op(idp) => Some(&idp.issuer),
            Self::Fake { .. } => None,
        }
    }

    /// `(real host, the fake's host:port)` for Node's `REDIRECT_HOSTS`.
    pub fn redirected_hosts(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Op(_) => Vec::new(),
            Self::Fake { fake, hosts } => {
                let address = fake.base.split("://").nth(1).unwrap_or_default().to_owned();
                hosts.iter().map(|host| (*host, address.clone())).collect()
            }
        }
    }

    /// `(the fake's base, https://<real host>)`: how a transcript names the fake's address.
    pub fn alias(&self) -> Option<(String, String)> {
        match self {
            Self::Fake { fake, hosts } => hosts
                .first()
                .map(|host| (fake.base.clone(), format!("https://{host}"))),
            Self::Op(_) => None,
        }
    }

    /// `url` as the browser reaches it: a host Node's module hard-codes goes to the fake.
    pub fn reachable(&self, url: &str) -> String {
        let Self::Fake { fake, hosts } = self else {
            return url.to_owned();
        };
        for host in *hosts {
            let real = format!("https://{host}");
            if let Some(rest) = url.strip_prefix(&real)
                && (rest.is_empty() || rest.starts_with(['/', '?']))
            {
                return format!("{}{rest}", fake.base);
            }
        }
        url.to_owned()
    }

    /// What the IdP received since the last clear, each as `{method, path, query, form?,
    /// contentType?, authorization, status}` (the OP's record; a fake's is brought to it).
    pub async fn requests(&self) -> Vec<Value> {
        match self {
            Self::Op(idp) => idp.requests().await,
            Self::Fake { fake, .. } => fake.requests().await.iter().map(op_shape).collect(),
        }
    }

    pub async fn clear_requests(&self) {
        match self {
            Self::Op(idp) => idp.clear_requests().await,
            Self::Fake { fake, .. } => fake.clear_requests().await,
        }
    }

    /// Only the OpenID Provider takes these (the scenarios that use them run on it only).
    pub async fn fail(&self, path: &str, status: u16) {
        self.op().fail(path, status).await;
    }

    pub async fn clear_failures(&self) {
        self.op().clear_failures().await;
    }

    pub async fn set_refresh_token_bits(&self, bits: u32) {
        self.op().set_refresh_token_bits(bits).await;
    }

    fn op(&self) -> &Idp {
        match self {
            Self::Op(idp) => idp,
            Self::Fake { .. } => panic!("this scenario needs the OpenID Provider"),
        }
    }
}

/// A fake's record as the OpenID Provider records requests.
fn op_shape(request: &Value) -> Value {
    let mut out = Map::new();
    for key in ["method", "path", "query", "form", "contentType", "status"] {
        if let Some(value) = request.get(key).filter(|value| !value.is_null()) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    let authorization = request["headers"]["authorization"]
        .as_str()
        .map(decoded_basic);
    out.insert("authorization".to_owned(), json!(authorization));
    json!(out)
}

/// `Basic <id>:<secret>` decoded (as the OpenID Provider records it), else the header.
fn decoded_basic(header: &str) -> String {
    use base64::Engine;
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return header.to_owned();
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return header.to_owned();
    };
    let text = String::from_utf8_lossy(&bytes);
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    match text.split_once(':') {
        Some((id, secret)) => format!("Basic {}:{}", decode(id), decode(secret)),
        None => format!("Basic {text}"),
    }
}
