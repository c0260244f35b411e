//! The optional Prometheus scrape endpoint (`telemetry.prometheus_listen`): `GET /metrics` in the
//! text exposition format, served by a small loopback-friendly HTTP responder.

use std::net::SocketAddr;

use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Binds `addr` and serves the registry until the returned task is aborted.
pub async fn serve(
    addr: &str,
    registry: Registry,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let registry = registry.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let (status, ctype, body) = if request.starts_with("GET /metrics") {
                    let mut out = Vec::new();
                    let _ = TextEncoder::new().encode(&registry.gather(), &mut out);
                    ("200 OK", "text/plain; version=0.0.4", out)
                } else {
                    (
                        "404 Not Found",
                        "text/plain",
                        b"only /metrics is served\n".to_vec(),
                    )
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok((local, task))
}
