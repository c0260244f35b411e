//! A running request's events to the client that streams it: the session's events through its
//! bounded queue, and the approvals of its workers' tool calls (those already waiting when the
//! client attached, then each that starts or stops waiting). While it streams, the client counts
//! as attached to the request (`permissions.unattended` holds only when none is).

use tokio::sync::broadcast::error::RecvError;

use crate::permissions::Approvals;
use crate::protocol::frame::encode;
use crate::protocol::{
    ApprovalEvent, ErrorKind, Event, FrameError, RequestSummary, Response, SHOW_TEXT_BYTES,
};
use crate::session::{EventStream, RequestEvent};

use super::connection::{Connection, error};

/// Forwards a request's events until it finishes. A client that goes away (or stops reading
/// past the write deadline) stops the forwarding, not the request.
pub(super) async fn stream_events(
    conn: &mut Connection,
    mut events: EventStream,
    request_id: &str,
    approvals: &std::sync::Arc<Approvals>,
) -> Result<(), FrameError> {
    let mut asked = approvals.subscribe();
    let _attached = approvals.attach(request_id);
    for info in approvals.pending(Some(request_id)) {
        conn.send(&approval(ApprovalEvent::Waiting(info))).await?;
    }
    // Events that are already waiting go out in one write: under a large fan-out this saves a
    // system call (and a client wake-up) per event.
    let mut batch: Vec<u8> = Vec::new();
    let mut listening = true;
    loop {
        let first = tokio::select! {
            first = events.recv() => match first {
                Some(first) => first,
                None => break,
            },
            heard = asked.recv(), if listening => {
                match heard {
                    Ok((rid, event)) if rid == request_id => conn.send(&approval(event)).await?,
                    Ok(_) => {}
                    // Missed some: what waits now is sent again (a client ignores repeats).
                    Err(RecvError::Lagged(_)) => {
                        for info in approvals.pending(Some(request_id)) {
                            conn.send(&approval(ApprovalEvent::Waiting(info))).await?;
                        }
                    }
                    Err(RecvError::Closed) => listening = false,
                }
                continue;
            }
        };
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match event {
                RequestEvent::Finished(summary) => {
                    batch.extend(final_frame(summary)?);
                    return conn.send_bytes(&batch).await;
                }
                RequestEvent::Progress(event) => batch.extend(encode(&Response::Event(event))?),
            }
            if batch.len() < 64 * 1024 {
                next = events.try_recv();
            }
        }
        conn.send_bytes(&batch).await?;
        batch.clear();
    }
    conn.send(&error(
        ErrorKind::Internal,
        format!("the session stopped while {request_id} ran; it is interrupted: `smith resume {request_id}` continues it"),
    ))
    .await
}

fn approval(event: ApprovalEvent) -> Response {
    Response::Event(Event::Approval(event))
}

/// The summary as a frame; if it cannot fit, its texts are cut (the whole answer stays in the
/// store: `smith show --full`).
fn final_frame(mut summary: RequestSummary) -> Result<Vec<u8>, FrameError> {
    let mut max = SHOW_TEXT_BYTES * 64;
    loop {
        match encode(&Response::Finished(summary.clone())) {
            Err(FrameError::TooLarge { .. }) if max > 256 => {
                let cut = |s: &mut String| {
                    if s.len() > max {
                        s.truncate(s.floor_char_boundary(max));
                        s.push_str("\n[cut to fit the reply: `smith show --full` has it all]");
                    }
                };
                cut(&mut summary.answer);
                for t in &mut summary.tasks {
                    if let Some(o) = t.output.as_mut() {
                        cut(o);
                    }
                }
                max /= 4;
            }
            other => return other,
        }
    }
}
