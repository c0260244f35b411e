//! Answers one request of a connection: asks and resumes stream their events (through a
//! bounded queue) until the final summary; queries are answered from the store with replies that
//! always fit the client (history in pages, long texts clipped and handed out in pieces).

use std::sync::Arc;

use crate::protocol::UsageReport;
use crate::protocol::frame::encode;
use crate::protocol::{
    Accepted, Ask, Done, ErrorKind, FrameError, HISTORY_PAGE, HISTORY_PAGE_MAX, HISTORY_TEXT_BYTES,
    HealthReply, HistoryQuery, HistoryReply, Request, RequestInfo, Response, SHOW_TEXT_BYTES,
    ServiceStatus, SessionList, ShowReply, TextQuery,
};
use crate::session::event_queue::EVENT_QUEUE_CAPACITY;
use crate::session::{EventStream, RequestEvent, RequestSpec, SessionError, event_queue};
use crate::spend::Day;
use crate::store::{StoreError, queries};

use super::bounded_reply::{clip_request, clip_show, text_chunk};
use super::connection::{Connection, error};
use super::shared::ServiceShared;
use super::shutdown::{ShutdownLevel, raise};
use super::stream::stream_events;
use super::{approvals, logs, workspaces};

fn session_error(e: SessionError) -> Response {
    let kind = match &e {
        SessionError::Invalid(_) => ErrorKind::BadRequest,
        SessionError::NotFound(_) => ErrorKind::NotFound,
        SessionError::WrongState { .. } => ErrorKind::WrongState,
        SessionError::QueueFull { .. } | SessionError::TooManySessions { .. } => ErrorKind::Busy,
        SessionError::Store(StoreError::NotFound { .. }) => ErrorKind::NotFound,
        SessionError::Store(_) | SessionError::Unreachable { .. } => ErrorKind::Internal,
        SessionError::Workspace(_) => ErrorKind::BadRequest,
        SessionError::OverBudget(_) => ErrorKind::OverBudget,
    };
    error(kind, e.to_string())
}

/// The checkout of an accepted request's worktrees: its `Accepted` event, queued before the
/// session replied.
fn accepted_worktrees(events: &mut EventStream) -> Option<crate::protocol::WorktreeBase> {
    match events.try_recv() {
        Some(RequestEvent::Progress(crate::protocol::Event::Accepted { worktrees, .. })) => {
            worktrees
        }
        _ => None,
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => error(ErrorKind::NotFound, e.to_string()),
        other => error(ErrorKind::Internal, other.to_string()),
    }
}

fn shutting_down() -> Response {
    error(
        ErrorKind::ShuttingDown,
        "smithd is shutting down; not accepting requests",
    )
}

/// Handles one request; `Err` when the connection is gone.
pub(crate) async fn handle(
    conn: &mut Connection,
    shared: &Arc<ServiceShared>,
    request: Request,
    traceparent: Option<String>,
) -> Result<(), FrameError> {
    let stopping = *shared.shutdown.borrow() != ShutdownLevel::Run;
    let (Some(sessions), Some(store)) = (shared.sessions(), shared.store()) else {
        return conn
            .send(&error(
                ErrorKind::Internal,
                "smithd is restarting its parts; try again",
            ))
            .await;
    };
    match request {
        Request::Ask(Ask { spec, detach }) => {
            if stopping {
                return conn.send(&shutting_down()).await;
            }
            let spec = RequestSpec::from_ask(spec, traceparent);
            let (sink, events) = event_queue(EVENT_QUEUE_CAPACITY);
            let mut events = events;
            match sessions.submit(spec, Some(sink)).await {
                Err(e) => conn.send(&session_error(e)).await,
                Ok(id) if detach => {
                    let worktrees = accepted_worktrees(&mut events);
                    conn.send(&Response::Accepted(Accepted {
                        request_id: id,
                        worktrees,
                    }))
                    .await
                }
                Ok(id) => stream_events(conn, events, &id, &shared.approvals).await,
            }
        }
        Request::Resume(r) => {
            if stopping {
                return conn.send(&shutting_down()).await;
            }
            let (sink, mut events) = event_queue(EVENT_QUEUE_CAPACITY);
            match sessions.resume(&r.request_id, Some(sink)).await {
                Err(e) => conn.send(&session_error(e)).await,
                Ok(()) if r.detach => {
                    let worktrees = accepted_worktrees(&mut events);
                    conn.send(&Response::Accepted(Accepted {
                        request_id: r.request_id,
                        worktrees,
                    }))
                    .await
                }
                Ok(()) => stream_events(conn, events, &r.request_id, &shared.approvals).await,
            }
        }
        Request::Watch(w) => {
            let (sink, events) = event_queue(EVENT_QUEUE_CAPACITY);
            match sessions
                .watch(w.request_id.as_deref(), &w.session, sink)
                .await
            {
                Err(e) => conn.send(&session_error(e)).await,
                Ok(id) => stream_events(conn, events, &id, &shared.approvals).await,
            }
        }
        Request::Logs(q) => conn.send(&logs::logs(shared, &store, q).await).await,
        Request::Cancel(c) => match sessions.cancel(&c.request_id).await {
            Ok(()) => {
                conn.send(&Response::Done(Done {
                    message: format!("cancelling {}", c.request_id),
                }))
                .await
            }
            Err(e) => conn.send(&session_error(e)).await,
        },
        Request::Status(_) => {
            let root = match shared.root() {
                Some(r) => r.status().await.ok(),
                None => None,
            };
            let Some(root) = root else {
                return conn
                    .send(&error(
                        ErrorKind::Internal,
                        "the root supervisor does not answer",
                    ))
                    .await;
            };
            let status = ServiceStatus {
                version: env!("CARGO_PKG_VERSION").to_string(),
                pid: std::process::id(),
                uptime_secs: shared.uptime_secs(),
                root: root.into(),
                sessions_supervisor: sessions.supervisor().status().await.ok().map(Into::into),
                sessions: sessions.status().await,
                max_concurrent_tasks: shared.config.limits.max_concurrent_tasks as u64,
                running_tasks: shared.permits.view().in_use as u64,
                approvals: shared.approvals.pending(None),
                governor: (shared.governor.view(), shared.permits.view()).into(),
                spend: shared.ledger.status(),
                warm_workers: shared.warm.as_ref().map_or(0, |w| w.idle() as u64),
                cluster: shared.cluster_status(),
            };
            conn.send(&Response::Status(Box::new(status))).await
        }
        Request::Sessions(_) => match store.call(|c| queries::list_sessions(c)).await {
            Ok(sessions) => {
                let sessions = sessions.into_iter().map(Into::into).collect();
                conn.send(&Response::Sessions(SessionList { sessions }))
                    .await
            }
            Err(e) => conn.send(&store_error(e)).await,
        },
        Request::History(h) => history(conn, shared, h).await,
        Request::Show(s) => {
            let id = s.request_id.clone();
            let detail = match store.call(move |c| queries::request_detail(c, &id)).await {
                Ok(d) => d,
                Err(e) => return conn.send(&store_error(e)).await,
            };
            // Texts are clipped to SHOW_TEXT_BYTES each, less when there are very many.
            let whole = ShowReply::from(detail);
            let mut max = SHOW_TEXT_BYTES;
            loop {
                let mut reply = whole.clone();
                clip_show(&mut reply, max);
                match encode(&Response::Show(reply)) {
                    Ok(bytes) => return conn.send_bytes(&bytes).await,
                    Err(FrameError::TooLarge { .. }) if max > 256 => max /= 4,
                    Err(e) => return conn.send(&error(ErrorKind::Internal, e.to_string())).await,
                }
            }
        }
        Request::Text(TextQuery {
            request_id,
            part,
            offset,
        }) => {
            let id = request_id.clone();
            match store.call(move |c| queries::request_detail(c, &id)).await {
                Ok(detail) => match text_chunk(&detail, part, offset) {
                    Some(chunk) => conn.send(&Response::Text(chunk)).await,
                    None => {
                        conn.send(&error(
                            ErrorKind::NotFound,
                            format!("request {request_id} has no text {part:?}"),
                        ))
                        .await
                    }
                },
                Err(e) => conn.send(&store_error(e)).await,
            }
        }
        Request::Prune(_) => {
            let retention = shared.config.retention();
            match store.call(move |c| retention.prune_now(c)).await {
                Ok(report) => {
                    tracing::info!(
                        requests = report.requests,
                        bytes_freed = report.bytes_freed,
                        "pruned on request"
                    );
                    conn.send(&Response::Pruned(report.into())).await
                }
                Err(e) => conn.send(&store_error(e)).await,
            }
        }
        Request::Diff(q) => conn.send(&workspaces::diff(&store, q).await).await,
        Request::Apply(op) => {
            let reply = workspaces::apply_or_discard(shared, &store, op, false).await;
            conn.send(&reply).await
        }
        Request::Discard(op) => {
            let reply = workspaces::apply_or_discard(shared, &store, op, true).await;
            conn.send(&reply).await
        }
        Request::Workspaces(_) => conn.send(&workspaces::list(&store).await).await,
        Request::Approvals(q) => approvals::approvals(conn, &shared.approvals, q).await,
        Request::Decide(d) => approvals::decide(conn, &shared.approvals, d).await,
        Request::Usage(q) => {
            let by = q.by;
            if let Some(Err(e)) = q.since.as_deref().map(Day::parse) {
                return conn.send(&error(ErrorKind::BadRequest, e)).await;
            }
            let time_zone = shared.ledger.ceilings().zone.name().to_string();
            match store
                .call(move |c| queries::usage(c, by, q.since.as_deref()))
                .await
            {
                Ok((rows, total)) => {
                    let report = UsageReport {
                        by,
                        rows,
                        total,
                        time_zone,
                    };
                    conn.send(&Response::Usage(report)).await
                }
                Err(e) => conn.send(&store_error(e)).await,
            }
        }
        Request::Health(_) => {
            conn.send(&Response::Health(HealthReply {
                version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_secs: shared.uptime_secs(),
                pid: std::process::id(),
                warnings: shared.warnings.clone(),
                cluster: shared.cluster_status(),
            }))
            .await
        }
        Request::Shutdown(_) => {
            tracing::info!("shutdown requested by a client");
            let r = conn
                .send(&Response::Done(Done {
                    message: "smithd is shutting down".into(),
                }))
                .await;
            raise(&shared.shutdown, ShutdownLevel::Graceful);
            r
        }
    }
}

/// One page of a session's history, long texts clipped.
async fn history(
    conn: &mut Connection,
    shared: &Arc<ServiceShared>,
    h: HistoryQuery,
) -> Result<(), FrameError> {
    let Some(store) = shared.store() else {
        return conn
            .send(&error(ErrorKind::Internal, "the store is restarting"))
            .await;
    };
    let limit = match h.limit {
        0 => HISTORY_PAGE,
        n => n.min(HISTORY_PAGE_MAX),
    };
    let name = h.session.clone();
    let page = store
        .call(move |c| queries::session_requests(c, &name, h.before, limit))
        .await;
    match page {
        Ok((requests, _)) if requests.is_empty() && h.before.is_none() => {
            conn.send(&error(
                ErrorKind::NotFound,
                format!("session {} has no requests", h.session),
            ))
            .await
        }
        Ok((requests, older)) => {
            let mut requests: Vec<RequestInfo> = requests.into_iter().map(Into::into).collect();
            let mut clipped = Vec::new();
            for r in &mut requests {
                clip_request(r, HISTORY_TEXT_BYTES, &mut clipped);
            }
            conn.send(&Response::History(HistoryReply {
                session: h.session,
                requests,
                older,
                clipped,
            }))
            .await
        }
        Err(e) => conn.send(&store_error(e)).await,
    }
}
