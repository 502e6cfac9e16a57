//! The popup result page (§5): posts the result to the opener at the checked origin only,
//! under a CSP that allows exactly this inline script (by hash).

use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use percent_encoding::utf8_percent_encode;

use super::URI_COMPONENT;

/// The page for `message` (a JSON object), posted to `target_origin`.
pub fn page(message: &serde_json::Value, target_origin: &str) -> Response {
    let payload = utf8_percent_encode(&message.to_string(), URI_COMPONENT).to_string();
    let origin = utf8_percent_encode(target_origin, URI_COMPONENT).to_string();
    let script = format!(
        "
    var authResponse = decodeURIComponent('{payload}');
    var origin = decodeURIComponent('{origin}');
    var originInfo = {{'type': 'config_info', 'targetOrigin': origin}};
    (window.opener || window.parent).postMessage(originInfo, '*');
    (window.opener || window.parent).postMessage(JSON.parse(authResponse), origin);
    setTimeout(() => {{
      window.close();
    }}, 100); // same as the interval of the core-app-api lib/loginPopup.ts (to address race conditions)
  "
    );
    let hash = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    let csp = format!("script-src 'sha256-{}'", STANDARD.encode(hash.as_ref()));
    let body = format!("<html><body><script>{script}</script></body></html>");
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("sameorigin"),
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_hash_covers_exactly_the_inline_script() {
        let message = serde_json::json!({"type": "authorization_response", "error": {"name": "Error", "message": "it's </script><script>alert(1)"}});
        let response = page(&message, "http://localhost:3000");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let body = futures_body(response);
        let script = body
            .strip_prefix("<html><body><script>")
            .unwrap()
            .strip_suffix("</script></body></html>")
            .unwrap();
        let hash = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
        assert_eq!(
            csp,
            format!("script-src 'sha256-{}'", STANDARD.encode(hash.as_ref()))
        );
        assert!(
            !script.contains("</script>") && !script.contains("it's"),
            "data is escaped: {script}"
        );
        assert!(script.contains("decodeURIComponent('http%3A%2F%2Flocalhost%3A3000')"));
    }

    fn futures_body(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
