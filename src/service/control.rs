//! The control server: the Unix socket (directory 0700, socket 0600), one task per connection,
//! the peer's uid checked before anything else, a version handshake within a deadline, then
//! requests. Bad input gets a clear error frame where possible and a closed connection; it never
//! touches other connections.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::protocol::{
    Accepted, Ask, Done, ErrorKind, ErrorReply, FrameError, HealthReply, Hello, HistoryReply,
    PROTOCOL_VERSION, Request, Response, ServiceStatus, SessionList, Welcome, read_frame,
    write_frame,
};
use crate::session::{RequestEvent, SessionError};
use crate::store::{StoreError, queries};

use super::shared::ServiceShared;
use super::shutdown::{ShutdownLevel, raise};

/// How long a connection may stay silent between requests.
const IDLE: Duration = Duration::from_secs(300);

/// What can go wrong with the socket.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket cannot be created.
    #[error("cannot listen on {path}: {reason}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Prepares the socket's directory (0700) and removes a stale socket. A socket that still answers
/// belongs to a live smithd (the instance lock normally catches that first).
pub async fn prepare_socket(path: &Path) -> Result<(), ControlError> {
    let bind_err = |reason: String| ControlError::Bind {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| bind_err(format!("cannot create {}: {e}", dir.display())))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| bind_err(format!("cannot restrict {} to 0700: {e}", dir.display())))?;
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(bind_err("another smithd answers on this socket".into()));
        }
        tracing::info!(socket = %path.display(), "removing a stale socket");
        std::fs::remove_file(path)
            .map_err(|e| bind_err(format!("cannot remove the stale socket: {e}")))?;
    }
    Ok(())
}

/// The control server actor: owns the listener and its accept loop.
pub struct ControlServer;

/// Its state: the accept loop (aborted when the actor goes) and the socket path.
pub struct ControlState {
    accept: JoinHandle<()>,
    path: PathBuf,
}

impl Drop for ControlState {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Actor for ControlServer {
    type Msg = ();
    type State = ControlState;
    type Arguments = Arc<ServiceShared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        shared: Arc<ServiceShared>,
    ) -> Result<ControlState, ActorProcessingErr> {
        let path = shared.config.service.socket.clone();
        prepare_socket(&path).await?;
        let listener = UnixListener::bind(&path).map_err(|e| ControlError::Bind {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        tracing::info!(socket = %path.display(), "listening");
        let accept = tokio::spawn(accept_loop(listener, shared));
        Ok(ControlState { accept, path })
    }
}

async fn accept_loop(listener: UnixListener, shared: Arc<ServiceShared>) {
    let slots = Arc::new(Semaphore::new(shared.config.service.max_clients));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(async move {
                    serve(stream, shared).await;
                    drop(slot);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = write_frame(
                        &mut stream,
                        &error(ErrorKind::Busy, "too many clients; try again shortly"),
                    )
                    .await;
                });
            }
        }
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// One connection: peer check, handshake, requests.
async fn serve(mut stream: UnixStream, shared: Arc<ServiceShared>) {
    // The peer is verified before anything it sends is read or logged.
    let me = nix::unistd::getuid().as_raw();
    match getsockopt(&stream, PeerCredentials) {
        Ok(cred) if cred.uid() == me => {}
        Ok(cred) => {
            tracing::warn!(
                peer_uid = cred.uid(),
                peer_pid = cred.pid(),
                "refused a client of another user"
            );
            let _ = write_frame(
                &mut stream,
                &error(ErrorKind::Forbidden, format!("smithd serves only uid {me}")),
            )
            .await;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the peer's credentials; closing");
            return;
        }
    }
    let max = shared.config.service.max_frame_bytes;
    let hello = match tokio::time::timeout(
        shared.config.service.handshake_timeout,
        read_frame::<_, Hello>(&mut stream, max),
    )
    .await
    {
        Err(_) => {
            tracing::debug!("no handshake in time; closing");
            let _ = write_frame(
                &mut stream,
                &error(ErrorKind::BadRequest, "no handshake in time"),
            )
            .await;
            return;
        }
        Ok(Err(FrameError::Closed)) => return,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "bad handshake");
            let _ = write_frame(
                &mut stream,
                &error(ErrorKind::BadRequest, format!("bad handshake: {e}")),
            )
            .await;
            return;
        }
        Ok(Ok(hello)) => hello,
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        let _ = write_frame(
            &mut stream,
            &error(
                ErrorKind::Version,
                format!(
                    "smithd {} speaks protocol version {PROTOCOL_VERSION}, this client ({}) speaks {}: use matching versions",
                    env!("CARGO_PKG_VERSION"),
                    hello.client_version,
                    hello.protocol_version
                ),
            ),
        )
        .await;
        return;
    }
    let welcome = Response::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    if write_frame(&mut stream, &welcome).await.is_err() {
        return;
    }
    loop {
        let request =
            match tokio::time::timeout(IDLE, read_frame::<_, Request>(&mut stream, max)).await {
                Err(_) | Ok(Err(FrameError::Closed)) => return,
                Ok(Err(e)) => {
                    let _ = write_frame(&mut stream, &error(ErrorKind::BadRequest, e.to_string()))
                        .await;
                    return;
                }
                Ok(Ok(r)) => r,
            };
        if handle(&mut stream, &shared, request, hello.traceparent.clone())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn session_error(e: SessionError) -> Response {
    let kind = match &e {
        SessionError::Invalid(_) => ErrorKind::BadRequest,
        SessionError::NotFound(_) => ErrorKind::NotFound,
        SessionError::WrongState { .. } => ErrorKind::WrongState,
        SessionError::Store(StoreError::NotFound { .. }) => ErrorKind::NotFound,
        SessionError::Store(_) | SessionError::Unreachable { .. } => ErrorKind::Internal,
    };
    error(kind, e.to_string())
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => error(ErrorKind::NotFound, e.to_string()),
        other => error(ErrorKind::Internal, other.to_string()),
    }
}

/// Handles one request; `Err` when the connection is gone.
async fn handle(
    stream: &mut UnixStream,
    shared: &Arc<ServiceShared>,
    request: Request,
    traceparent: Option<String>,
) -> Result<(), FrameError> {
    let shutting_down = *shared.shutdown.borrow() != ShutdownLevel::Run;
    let (Some(sessions), Some(store)) = (shared.sessions(), shared.store()) else {
        return write_frame(
            stream,
            &error(
                ErrorKind::Internal,
                "smithd is restarting its parts; try again",
            ),
        )
        .await;
    };
    match request {
        Request::Ask(Ask { mut spec, detach }) => {
            if shutting_down {
                return write_frame(
                    stream,
                    &error(
                        ErrorKind::ShuttingDown,
                        "smithd is shutting down; not accepting requests",
                    ),
                )
                .await;
            }
            if spec.traceparent.is_none() {
                spec.traceparent = traceparent;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            match sessions.submit(spec, Some(tx)).await {
                Err(e) => write_frame(stream, &session_error(e)).await,
                Ok(id) if detach => {
                    write_frame(stream, &Response::Accepted(Accepted { request_id: id })).await
                }
                Ok(id) => stream_events(stream, rx, &id).await,
            }
        }
        Request::Resume(r) => {
            if shutting_down {
                return write_frame(
                    stream,
                    &error(ErrorKind::ShuttingDown, "smithd is shutting down"),
                )
                .await;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            match sessions.resume(&r.request_id, Some(tx)).await {
                Err(e) => write_frame(stream, &session_error(e)).await,
                Ok(()) if r.detach => {
                    write_frame(
                        stream,
                        &Response::Accepted(Accepted {
                            request_id: r.request_id,
                        }),
                    )
                    .await
                }
                Ok(()) => stream_events(stream, rx, &r.request_id).await,
            }
        }
        Request::Cancel(c) => match sessions.cancel(&c.request_id).await {
            Ok(()) => {
                write_frame(
                    stream,
                    &Response::Done(Done {
                        message: format!("cancelling {}", c.request_id),
                    }),
                )
                .await
            }
            Err(e) => write_frame(stream, &session_error(e)).await,
        },
        Request::Status(_) => {
            let root = match shared.root() {
                Some(r) => r.status().await.ok(),
                None => None,
            };
            let Some(root) = root else {
                return write_frame(
                    stream,
                    &error(ErrorKind::Internal, "the root supervisor does not answer"),
                )
                .await;
            };
            let status = ServiceStatus {
                version: env!("CARGO_PKG_VERSION").to_string(),
                pid: std::process::id(),
                uptime_secs: shared.uptime_secs(),
                root,
                sessions_supervisor: sessions.supervisor().status().await.ok(),
                sessions: sessions.status().await,
                max_concurrent_tasks: shared.config.limits.max_concurrent_tasks,
                running_tasks: shared.config.limits.max_concurrent_tasks
                    - shared.permits.available_permits(),
            };
            write_frame(stream, &Response::Status(status)).await
        }
        Request::Sessions(_) => match store.call(|c| queries::list_sessions(c)).await {
            Ok(sessions) => {
                write_frame(stream, &Response::Sessions(SessionList { sessions })).await
            }
            Err(e) => write_frame(stream, &store_error(e)).await,
        },
        Request::History(h) => {
            let name = h.session.clone();
            match store
                .call(move |c| queries::session_requests(c, &name))
                .await
            {
                Ok(requests) if requests.is_empty() => {
                    write_frame(
                        stream,
                        &error(
                            ErrorKind::NotFound,
                            format!("session {} has no requests", h.session),
                        ),
                    )
                    .await
                }
                Ok(requests) => {
                    write_frame(
                        stream,
                        &Response::History(HistoryReply {
                            session: h.session,
                            requests,
                        }),
                    )
                    .await
                }
                Err(e) => write_frame(stream, &store_error(e)).await,
            }
        }
        Request::Show(s) => {
            let id = s.request_id.clone();
            match store.call(move |c| queries::request_detail(c, &id)).await {
                Ok(detail) => write_frame(stream, &Response::Show(detail)).await,
                Err(e) => write_frame(stream, &store_error(e)).await,
            }
        }
        Request::Health(_) => {
            write_frame(
                stream,
                &Response::Health(HealthReply {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    uptime_secs: shared.uptime_secs(),
                    pid: std::process::id(),
                }),
            )
            .await
        }
        Request::Shutdown(_) => {
            tracing::info!("shutdown requested by a client");
            let r = write_frame(
                stream,
                &Response::Done(Done {
                    message: "smithd is shutting down".into(),
                }),
            )
            .await;
            raise(&shared.shutdown, ShutdownLevel::Graceful);
            r
        }
    }
}

/// Forwards a request's events until it finishes. A client that goes away stops the forwarding,
/// not the request.
async fn stream_events(
    stream: &mut UnixStream,
    mut rx: mpsc::UnboundedReceiver<RequestEvent>,
    request_id: &str,
) -> Result<(), FrameError> {
    use tokio::io::AsyncWriteExt;
    // Events that are already waiting go out in one write: under a large fan-out this saves a
    // system call (and a client wake-up) per event.
    let mut batch: Vec<u8> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(event) = next.take() {
            if let RequestEvent::Finished(summary) = event {
                batch.extend(crate::protocol::frame::encode(&Response::Finished(
                    summary,
                ))?);
                stream.write_all(&batch).await?;
                return Ok(stream.flush().await?);
            }
            batch.extend(crate::protocol::frame::encode(&Response::Event(event))?);
            if batch.len() < 64 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        stream.write_all(&batch).await?;
        batch.clear();
    }
    write_frame(
        stream,
        &error(
            ErrorKind::Internal,
            format!("the session stopped while {request_id} ran; it is interrupted: `smith resume {request_id}` continues it"),
        ),
    )
    .await
}
