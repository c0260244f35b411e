//! One client connection: who the peer is (checked before anything it sends is read), and
//! reads and writes with their bounds — every read is bounded (size, idle time, a deadline once
//! a frame began), every write has a deadline, and a connection that waits for its client gives
//! its slot up when another client needs it.

use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::agent::attempt_tag::TAG_VAR;
use crate::agent::proc_info;
use crate::config::ServiceSettings;
use crate::protocol::frame::encode;
use crate::protocol::{ErrorKind, ErrorReply, FrameError, ReadLimits, Response, read_frame};

use super::client_slots::ClientSlot;

/// An error reply.
pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// What one read brought.
pub(super) enum Read<T> {
    Frame(T),
    Evicted,
    Failed(FrameError),
}

/// A client connection with its limits and its slot.
pub(crate) struct Connection {
    stream: UnixStream,
    slot: ClientSlot,
    max_frame: usize,
    frame_timeout: Duration,
    write_timeout: Duration,
}

impl Connection {
    pub(super) fn new(stream: UnixStream, slot: ClientSlot, service: &ServiceSettings) -> Self {
        Self {
            stream,
            slot,
            max_frame: service.max_frame_bytes,
            frame_timeout: service.frame_timeout,
            write_timeout: service.write_timeout,
        }
    }

    /// Writes one reply within the write deadline. A reply too large for any client is replaced
    /// by an error saying so.
    pub(crate) async fn send(&mut self, response: &Response) -> Result<(), FrameError> {
        let bytes = match encode(response) {
            Ok(b) => b,
            Err(FrameError::TooLarge { len, max }) => encode(&error(
                ErrorKind::Internal,
                format!("the reply ({len} bytes) exceeds the protocol's limit of {max} bytes"),
            ))?,
            Err(e) => return Err(e),
        };
        self.send_bytes(&bytes).await
    }

    /// Writes encoded frames within the write deadline.
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let within = self.write_timeout;
        let stream = &mut self.stream;
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(within, write).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(FrameError::WriteStalled(within)),
        }
    }

    /// Waits for the client's next frame (for `idle` at most); meanwhile the slot may be taken.
    pub(super) async fn read<T: DeserializeOwned>(&mut self, idle: Duration) -> Read<T> {
        let limits = ReadLimits {
            max_bytes: self.max_frame,
            idle: Some(idle),
            frame_timeout: self.frame_timeout,
        };
        self.slot.waiting();
        let read = tokio::select! {
            biased;
            _ = self.slot.evicted() => Read::Evicted,
            r = read_frame(&mut self.stream, limits) => match r {
                Ok(frame) => Read::Frame(frame),
                Err(e) => Read::Failed(e),
            },
        };
        self.slot.busy();
        read
    }

    /// Resolves when the client closed its end (what it sends meanwhile is discarded: a client
    /// that follows a stream sends nothing).
    pub(crate) async fn closed(&self) {
        let mut buf = [0u8; 256];
        loop {
            if self.stream.readable().await.is_err() {
                return;
            }
            match self.stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    /// The peer's uid, as the kernel says.
    pub(crate) fn peer_uid(&self) -> Option<u32> {
        getsockopt(&self.stream, PeerCredentials)
            .ok()
            .map(|c| c.uid())
    }

    /// Says why the connection closes, without waiting long for a client that does not read.
    pub(super) async fn close_with(mut self, response: Response) {
        self.write_timeout = self.write_timeout.min(Duration::from_secs(1));
        let _ = self.send(&response).await;
    }
}

/// Why a peer is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// It runs as another user.
    OtherUser,
    /// It is a worker's process (or started by one): why it counts as one.
    Worker(String),
}

/// Whether a peer of `peer_uid` (process `peer_pid`) may talk to smithd running as `me`; with
/// `descendants`, a process below smithd counts as a worker's even without a tag.
fn peer_verdict(peer_uid: u32, peer_pid: u32, me: u32, descendants: bool) -> Result<(), Refusal> {
    if peer_uid != me {
        return Err(Refusal::OtherUser);
    }
    match worker_ancestry(peer_pid, descendants) {
        None => Ok(()),
        Some(why) => Err(Refusal::Worker(why)),
    }
}

/// Whether the peer may talk to smithd; on refusal, the reason for the client.
pub(super) fn check_peer(
    stream: &UnixStream,
    descendants: bool,
) -> Result<(), Option<Box<Response>>> {
    let me = nix::unistd::getuid().as_raw();
    let cred = match getsockopt(stream, PeerCredentials) {
        Ok(cred) => cred,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the peer's credentials; closing");
            return Err(None);
        }
    };
    let reply = match peer_verdict(cred.uid(), cred.pid() as u32, me, descendants) {
        Ok(()) => return Ok(()),
        Err(Refusal::Worker(why)) => {
            tracing::warn!(peer_pid = cred.pid(), %why, "refused a client started by a worker");
            error(
                ErrorKind::Forbidden,
                "smithd takes no requests from its own workers or what they start",
            )
        }
        Err(Refusal::OtherUser) => {
            tracing::warn!(
                peer_uid = cred.uid(),
                peer_pid = cred.pid(),
                "refused a client of another user"
            );
            error(ErrorKind::Forbidden, format!("smithd serves only uid {me}"))
        }
    };
    Err(Some(Box::new(reply)))
}

/// Why `pid` counts as a worker's process, if it does: it or an ancestor carries an attempt tag,
/// or (with `descendants`) its ancestry reaches smithd itself (workers, and the orphans smithd
/// adopts as a subreaper).
fn worker_ancestry(pid: u32, descendants: bool) -> Option<String> {
    let me = std::process::id();
    std::iter::once(pid)
        .chain(proc_info::ancestors(pid))
        .find_map(|p| {
            if descendants && p == me {
                Some("its ancestry reaches smithd".to_string())
            } else {
                proc_info::environ_var(p, TAG_VAR)
                    .map(|tag| format!("pid {p} carries {TAG_VAR}={tag}"))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_user_outside_the_workers_is_served() {
        let me = nix::unistd::getuid().as_raw();
        // The test runner that started this test is not below "smithd" (this process).
        let runner = std::os::unix::process::parent_id();
        assert_eq!(peer_verdict(me, runner, me, true), Ok(()));
        assert_eq!(
            peer_verdict(me.wrapping_add(1), runner, me, true),
            Err(Refusal::OtherUser)
        );
        // Its ancestry reaches "smithd" when smithd is this very process.
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let verdict = peer_verdict(me, child.id(), me, true);
        let embedded = peer_verdict(me, child.id(), me, false);
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        assert!(matches!(verdict, Err(Refusal::Worker(_))), "{verdict:?}");
        assert_eq!(
            embedded,
            Ok(()),
            "an embedding process serves its own children"
        );
    }
}
