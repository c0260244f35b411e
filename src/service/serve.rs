//! One connection from accept to close: the peer is checked before anything it sends is read,
//! the handshake must arrive in time, then requests are read one at a time and handled.

use std::sync::Arc;

use tokio::net::UnixStream;

use crate::protocol::{ErrorKind, FrameError, Hello, PROTOCOL_VERSION, Request, Response, Welcome};

use super::client_slots::ClientSlot;
use super::connection::{Connection, Read, check_peer, error};
use super::handler::handle;
use super::shared::ServiceShared;

fn evicted() -> Response {
    error(
        ErrorKind::Busy,
        "closed to make room for another client: this connection was idle and smithd is at service.max_clients",
    )
}

/// Serves one connection to its end.
pub(crate) async fn serve(stream: UnixStream, slot: ClientSlot, shared: Arc<ServiceShared>) {
    // The peer is verified before anything it sends is read or logged.
    let refusal = check_peer(&stream, !shared.options.embedded);
    let mut conn = Connection::new(stream, slot, &shared.config.service);
    if let Err(reason) = refusal {
        if let Some(reply) = reason {
            conn.close_with(*reply).await;
        }
        return;
    }
    let handshake = shared.config.service.handshake_timeout;
    let hello = match conn.read::<Hello>(handshake).await {
        Read::Frame(hello) => hello,
        Read::Evicted => return conn.close_with(evicted()).await,
        Read::Failed(FrameError::Closed) => return,
        Read::Failed(FrameError::Idle(_)) => {
            tracing::debug!("no handshake in time; closing");
            return conn
                .close_with(error(ErrorKind::BadRequest, "no handshake in time"))
                .await;
        }
        Read::Failed(e) => {
            tracing::debug!(error = %e, "bad handshake");
            return conn
                .close_with(error(ErrorKind::BadRequest, format!("bad handshake: {e}")))
                .await;
        }
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        return conn
            .close_with(error(
                ErrorKind::Version,
                format!(
                    "smithd {} speaks protocol version {PROTOCOL_VERSION}, this client ({}) speaks {}: use matching versions",
                    env!("CARGO_PKG_VERSION"),
                    hello.client_version.chars().take(64).collect::<String>(),
                    hello.protocol_version
                ),
            ))
            .await;
    }
    let welcome = Response::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    if conn.send(&welcome).await.is_err() {
        return;
    }
    let idle = shared.config.service.idle_timeout;
    loop {
        let request = match conn.read::<Request>(idle).await {
            Read::Frame(r) => r,
            Read::Evicted => return conn.close_with(evicted()).await,
            Read::Failed(FrameError::Closed | FrameError::Idle(_)) => return,
            Read::Failed(e) => {
                return conn
                    .close_with(error(ErrorKind::BadRequest, e.to_string()))
                    .await;
            }
        };
        if let Err(e) = handle(&mut conn, &shared, request, hello.traceparent.clone()).await {
            tracing::debug!(error = %e, "connection ended while answering");
            return;
        }
    }
}
