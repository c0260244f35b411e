//! The optional Prometheus scrape endpoint (`telemetry.prometheus_listen`): `GET /metrics` in the
//! text exposition format, served over HTTP/1.1 by hyper. Bounded: at most
//! [`MAX_CONNECTIONS`] connections at once (more are closed at once), a request's head must
//! arrive within [`HEADER_TIMEOUT`], a connection lives at most [`CONNECTION_TIMEOUT`]. An accept
//! error (e.g. out of file descriptors) is logged and retried after a pause; it never ends the
//! endpoint.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::accept_pause::AcceptPause;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Scrapers served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// A request's head must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

fn respond(registry: &Registry, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let mut out = Vec::new();
            match TextEncoder::new().encode(&registry.gather(), &mut out) {
                Ok(()) => (StatusCode::OK, "text/plain; version=0.0.4", out),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("cannot encode the metrics: {e}\n").into_bytes(),
                ),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            b"only GET /metrics is served\n".to_vec(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    response
}

/// Binds `addr` and serves the registry until the returned task is aborted.
pub async fn serve(
    addr: &str,
    registry: Registry,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, Arc::new(registry)));
    Ok((local, task))
}

async fn accept_loop(listener: TcpListener, registry: Arc<Registry>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut pause = AcceptPause::new();
    loop {
        let sock = match listener.accept().await {
            Ok((sock, _)) => {
                pause.reset();
                sock
            }
            Err(e) => {
                pause.failed("metrics endpoint", &e).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics endpoint: too many connections; closing one");
            continue;
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = respond(&registry, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(sock), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
            drop(slot);
        });
    }
}
