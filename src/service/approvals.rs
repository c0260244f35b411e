//! The control requests about tool calls that wait for a person: list them, follow them
//! (`smith approvals --watch`), decide one (`smith approve`, `smith deny`, the prompt of
//! `smith ask`). The desk itself is `permissions::Approvals`.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::permissions::{ApprovalError, Approvals};
use crate::protocol::{
    ApprovalEvent, ApprovalList, ApprovalsQuery, DecideRequest, ErrorKind, Event, FrameError,
    Response,
};

use super::connection::{Connection, error};

/// `Request::Approvals`: what waits; with `watch`, then each approval that starts or stops
/// waiting until the client leaves.
pub(super) async fn approvals(
    conn: &mut Connection,
    desk: &Arc<Approvals>,
    query: ApprovalsQuery,
) -> Result<(), FrameError> {
    let mut heard = desk.subscribe();
    let list = Response::Approvals(ApprovalList {
        pending: desk.pending(None),
    });
    conn.send(&list).await?;
    if !query.watch {
        return Ok(());
    }
    loop {
        tokio::select! {
            event = heard.recv() => match event {
                Ok((_, event)) => conn.send(&Response::Event(Event::Approval(event))).await?,
                // Missed some: what waits now, again.
                Err(RecvError::Lagged(_)) => {
                    for info in desk.pending(None) {
                        conn.send(&Response::Event(Event::Approval(ApprovalEvent::Waiting(info)))).await?;
                    }
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            // A watcher that left is noticed without waiting for the next approval.
            () = conn.closed() => return Ok(()),
        }
    }
}

/// `Request::Decide`: a person's decision, answered once it is committed.
pub(super) async fn decide(
    conn: &mut Connection,
    desk: &Arc<Approvals>,
    request: DecideRequest,
) -> Result<(), FrameError> {
    let by = crate::sanitize::one_line(request.by.trim());
    let who = match (by.is_empty(), conn.peer_uid()) {
        (false, Some(uid)) => format!("{by} (uid {uid})"),
        (true, Some(uid)) => format!("uid {uid}"),
        (false, None) => by,
        (true, None) => "a client".into(),
    };
    let reply = match desk.decide(request, who).await {
        Ok(decision) => Response::Decided(decision),
        Err(e @ ApprovalError::NotWaiting(_)) => error(ErrorKind::NotFound, e.to_string()),
        Err(e @ ApprovalError::NotRecorded { .. }) => error(ErrorKind::Internal, e.to_string()),
    };
    conn.send(&reply).await
}
