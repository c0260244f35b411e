//! The client side of the control protocol: connect, handshake, request, responses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixStream;

use crate::protocol::{
    ErrorKind, FrameError, Hello, MAX_FRAME_BYTES, PROTOCOL_VERSION, ReadLimits, Request, Response,
    read_frame, write_frame,
};

/// What the client accepts: any frame smithd may send (smithd never sends more).
fn limits() -> ReadLimits {
    ReadLimits::bytes(MAX_FRAME_BYTES)
}

/// What can go wrong talking to smithd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// smithd is not there.
    #[error("cannot reach smithd at {path}: {reason} (is smithd running? start it with `smithd`)")]
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// smithd said no.
    #[error("{message}")]
    Refused {
        /// Kind.
        kind: ErrorKind,
        /// smithd's message.
        message: String,
    },
    /// The conversation broke.
    #[error("talking to smithd failed: {0}")]
    Protocol(String),
    /// What the user gave cannot be sent.
    #[error("{0}")]
    Input(String),
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

/// A connection to smithd.
pub struct Client {
    stream: UnixStream,
    /// smithd's version.
    pub server_version: String,
}

impl Client {
    /// Connects and shakes hands.
    pub async fn connect(path: &Path, traceparent: Option<String>) -> Result<Self, ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            path: path.to_path_buf(),
            reason,
        };
        let mut stream = tokio::time::timeout(Duration::from_secs(5), UnixStream::connect(path))
            .await
            .map_err(|_| unreachable("connection timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let hello = write_frame(
            &mut stream,
            &Hello {
                protocol_version: PROTOCOL_VERSION,
                client_version: env!("CARGO_PKG_VERSION").to_string(),
                traceparent,
            },
        )
        .await;
        // smithd may refuse (and close) before it reads the hello: its reason waits to be read.
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            read_frame::<_, Response>(&mut stream, limits()),
        )
        .await
        .map_err(|_| unreachable("no answer to the handshake within 10 s".into()))?
        .map_err(|e| match &hello {
            Err(write) => unreachable(write.to_string()),
            Ok(()) => unreachable(e.to_string()),
        })?;
        match reply {
            Response::Welcome(w) => Ok(Self {
                stream,
                server_version: w.server_version,
            }),
            Response::Error(e) => Err(ClientError::Refused {
                kind: e.kind,
                message: e.message,
            }),
            other => Err(ClientError::Protocol(format!(
                "unexpected handshake reply {other:?}"
            ))),
        }
    }

    /// Sends a request.
    pub async fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        Ok(write_frame(&mut self.stream, request).await?)
    }

    /// Reads the next response; errors from smithd become [`ClientError::Refused`].
    pub async fn recv(&mut self) -> Result<Response, ClientError> {
        match read_frame::<_, Response>(&mut self.stream, limits()).await {
            Ok(Response::Error(e)) => Err(ClientError::Refused {
                kind: e.kind,
                message: e.message,
            }),
            Ok(r) => Ok(r),
            Err(FrameError::Closed) => {
                Err(ClientError::Protocol("smithd closed the connection".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a request and reads one response.
    pub async fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.send(request).await?;
        self.recv().await
    }
}

/// A reply that does not answer the request sent.
pub(crate) fn unexpected(r: crate::protocol::Response) -> ClientError {
    ClientError::Protocol(format!("unexpected reply from smithd: {r:?}"))
}
