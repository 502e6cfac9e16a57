//! The yardstick of `bench/jwks.sh`: a bare axum server answering `GET` on any path with the
//! bytes of a file as `application/json`, on the same runtime and HTTP stack as stagedoor,
//! with nothing else (no logs, no metrics, no headers of its own).
//!
//!     cargo run --release --example bare_jwks -- <port> <body.json>

use axum::http::header;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port = args.next().unwrap_or_else(|| "7008".into());
    let path = args.next().unwrap_or_else(|| "jwks.json".into());
    let body = bytes::Bytes::from(std::fs::read(path)?);
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await
}
