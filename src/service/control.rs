//! The control server: the Unix socket (see [`super::socket`]), an accept loop that survives
//! accept errors, a slot per connection (see [`super::client_slots`]), one task per connection
//! (see [`super::connection`]). Bad input gets a clear error frame where possible and a closed
//! connection; it never touches other connections.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::accept_pause::AcceptPause;
use crate::protocol::ErrorKind;
use crate::protocol::frame::encode;

use super::client_slots::ClientSlots;
use super::connection::error;
use super::serve::serve;
use super::shared::ServiceShared;
use super::socket::{ControlError, prepare_socket};

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

/// Accepts until aborted. An accept error (e.g. out of file descriptors) is logged and retried
/// after a pause that grows while it lasts; it never ends the loop.
async fn accept_loop(listener: UnixListener, shared: Arc<ServiceShared>) {
    let slots = ClientSlots::new(shared.config.service.max_clients);
    let mut pause = AcceptPause::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                pause.reset();
                stream
            }
            Err(e) => {
                pause.failed("control socket", &e).await;
                continue;
            }
        };
        match slots.admit() {
            Some(slot) => {
                let shared = shared.clone();
                tokio::spawn(serve(stream, slot, shared));
            }
            None => refuse_busy(stream),
        }
    }
}

/// Tells a client there is no slot, without waiting for it: one non-blocking write, then close.
fn refuse_busy(stream: UnixStream) {
    tracing::debug!("client slots full and all busy; refusing a client");
    if let Ok(bytes) = encode(&error(
        ErrorKind::Busy,
        "too many clients, all busy (service.max_clients); try again shortly",
    )) {
        let _ = stream.try_write(&bytes);
    }
}
