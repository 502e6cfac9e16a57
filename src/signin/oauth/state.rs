//! The OAuth `state` parameter (§4.1): the form-encoded members `nonce`, `env`, `origin`,
//! `redirectUrl`, `flow`, `scope` (and Pinniped's `audience`), hex-encoded. Its integrity
//! comes from the nonce cookie.

use std::fmt::Write;

use crate::error::Error;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthState {
    pub nonce: String,
    pub env: String,
    pub origin: Option<String>,
    pub redirect_url: Option<String>,
    pub flow: Option<String>,
    pub scope: Option<String>,
    /// The audience of an RFC 8693 exchange at the callback (Pinniped).
    pub audience: Option<String>,
}

impl OAuthState {
    pub fn encode(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("nonce", &self.nonce);
        form.append_pair("env", &self.env);
        let optional = [
            ("origin", &self.origin),
            ("redirectUrl", &self.redirect_url),
            ("flow", &self.flow),
            ("scope", &self.scope),
            ("audience", &self.audience),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                form.append_pair(key, value);
            }
        }
        let form = form.finish();
        let mut hex = String::with_capacity(form.len() * 2);
        for byte in form.as_bytes() {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }

    /// Node's decoder: hex up to the first invalid pair, form-decoded, last value wins.
    pub fn decode(hex: &str) -> Result<Self, Error> {
        let bytes: Vec<u8> = hex
            .as_bytes()
            .chunks_exact(2)
            .map_while(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect();
        let mut state = Self::default();
        for (key, value) in url::form_urlencoded::parse(&bytes) {
            let value = value.into_owned();
            match key.as_ref() {
                "nonce" => state.nonce = value,
                "env" => state.env = value,
                "origin" => state.origin = Some(value),
                "redirectUrl" => state.redirect_url = Some(value),
                "flow" => state.flow = Some(value),
                "scope" => state.scope = Some(value),
                "audience" => state.audience = Some(value),
                _ => {}
            }
        }
        if state.env.is_empty() {
            return Err(Error::not_allowed("OAuth state is invalid, missing env"));
        }
        if state.nonce.is_empty() {
            return Err(Error::not_allowed("OAuth state is invalid, missing nonce"));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exactly_as_node_does() {
        // The state captured in fixture 40-oidc-1-start.
        let state = OAuthState {
            nonce: "dh3Ft780jH5YuQRDtVO30A==".into(),
            env: "development".into(),
            origin: Some("http://localhost:3000".into()),
            flow: Some("popup".into()),
            scope: Some("openid profile email offline_access".into()),
            ..Default::default()
        };
        assert_eq!(
            state.encode(),
            "6e6f6e63653d64683346743738306a4835597551524474564f33304125334425334426656e763d646576656c6f706d656e74266f726967696e3d687474702533412532462532466c6f63616c686f73742533413330303026666c6f773d706f7075702673636f70653d6f70656e69642b70726f66696c652b656d61696c2b6f66666c696e655f616363657373"
        );
        assert_eq!(OAuthState::decode(&state.encode()).unwrap(), state);
    }

    #[test]
    fn an_audience_follows_the_flow_as_in_node() {
        // The state captured by the pinniped module (14-audience-1-start.state.json).
        let state = OAuthState {
            nonce: "sWGo1dt/JLM1uQnZARZRkg==".into(),
            env: "development".into(),
            origin: Some("http://localhost:3000".into()),
            flow: Some("popup".into()),
            audience: Some("my-cluster".into()),
            ..Default::default()
        };
        let form = state.encode();
        let bytes: Vec<u8> = (0..form.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&form[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "nonce=sWGo1dt%2FJLM1uQnZARZRkg%3D%3D&env=development&origin=http%3A%2F%2Flocalhost%3A3000&flow=popup&audience=my-cluster"
        );
        assert_eq!(OAuthState::decode(&form).unwrap(), state);
    }

    #[test]
    fn decoding_reports_missing_members_as_node_does() {
        let hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            OAuthState::decode("garbage").unwrap_err().message,
            "OAuth state is invalid, missing env"
        );
        assert_eq!(
            OAuthState::decode(&hex("nonce=abc")).unwrap_err().message,
            "OAuth state is invalid, missing env"
        );
        assert_eq!(
            OAuthState::decode(&hex("env=development"))
                .unwrap_err()
                .message,
            "OAuth state is invalid, missing nonce"
        );
        let decoded =
            OAuthState::decode(&format!("{}zz{}", hex("nonce=a&env=b"), hex("&env=c"))).unwrap();
        assert_eq!(
            (decoded.nonce.as_str(), decoded.env.as_str()),
            ("a", "b"),
            "stops at the first invalid pair"
        );
        assert_eq!(
            OAuthState::decode(&hex("nonce=a&env=b&env=c&x=1"))
                .unwrap()
                .env,
            "c",
            "last value wins"
        );
    }
}
