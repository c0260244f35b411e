//! What waits for one listening client: a bounded queue between a request run (which never
//! blocks on a client) and the connection that writes to it. When a client reads too slowly,
//! progress is dropped first (counted, and the client is told with [`Event::Lagged`]);
//! lifecycle events displace queued progress; the final summary has its own slot and is never
//! dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::request::RequestEvent;
use crate::protocol::{Event, RequestSummary};

/// Events held for one client at most (the final summary is extra).
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

#[derive(Default)]
struct Inner {
    queue: VecDeque<Event>,
    dropped: u64,
    finished: Option<Box<RequestSummary>>,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    capacity: usize,
    ready: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The listener has gone; stop sending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerGone;

/// The run's end of a queue.
pub struct EventSink(Arc<Shared>);

/// The connection's end of a queue.
pub struct EventStream(Arc<Shared>);

/// A queue holding at most `capacity` events besides the final summary.
pub fn event_queue(capacity: usize) -> (EventSink, EventStream) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner::default()),
        capacity: capacity.max(1),
        ready: Notify::new(),
    });
    (EventSink(shared.clone()), EventStream(shared))
}

/// Progress can be dropped for a slow client; lifecycle events cannot (they only displace
/// progress).
fn is_progress(e: &Event) -> bool {
    matches!(
        e,
        Event::TaskProgress { .. }
            | Event::TaskText { .. }
            | Event::TaskTool { .. }
            | Event::TaskApiRetry { .. }
            | Event::TaskQueued { .. }
    )
}

impl EventSink {
    /// Queues `event` without waiting; `Err` once the listener has gone.
    pub fn send(&self, event: RequestEvent) -> Result<(), ListenerGone> {
        let mut inner = self.0.lock();
        if inner.receiver_gone {
            return Err(ListenerGone);
        }
        let event = match event {
            RequestEvent::Finished(summary) => {
                inner.finished = Some(Box::new(summary));
                None
            }
            RequestEvent::Progress(event) => Some(event),
        };
        match event {
            None => {}
            Some(event) if inner.queue.len() < self.0.capacity => inner.queue.push_back(event),
            Some(event) if is_progress(&event) => inner.dropped += 1,
            Some(event) => match inner.queue.iter().position(is_progress) {
                Some(at) => {
                    inner.queue.remove(at);
                    inner.dropped += 1;
                    inner.queue.push_back(event);
                }
                // Only lifecycle events are waiting: the oldest one goes.
                None => {
                    inner.queue.pop_front();
                    inner.dropped += 1;
                    inner.queue.push_back(event);
                }
            },
        }
        drop(inner);
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.ready.notify_one();
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.receiver_gone = true;
        inner.queue.clear();
        inner.finished = None;
    }
}

impl EventStream {
    /// The next event: an [`Event::Lagged`] first if events were dropped since the last
    /// one, the final [`RequestEvent::Finished`] after everything queued; `None` when the run
    /// went away without finishing.
    pub async fn recv(&mut self) -> Option<RequestEvent> {
        loop {
            if let Some(event) = self.try_recv() {
                return Some(event);
            }
            if self.0.lock().sender_gone {
                // The sink may have queued something right before it went.
                return self.try_recv();
            }
            self.0.ready.notified().await;
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<RequestEvent> {
        let mut inner = self.0.lock();
        if inner.dropped > 0 {
            let dropped = std::mem::take(&mut inner.dropped);
            return Some(Event::Lagged { dropped }.into());
        }
        if let Some(event) = inner.queue.pop_front() {
            return Some(event.into());
        }
        inner.finished.take().map(|s| RequestEvent::Finished(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RequestStatus;

    fn progress(n: usize) -> RequestEvent {
        Event::TaskProgress {
            task_id: format!("t{n}"),
            text: "…".into(),
            tools: vec![],
        }
        .into()
    }

    fn started(n: usize) -> RequestEvent {
        Event::TaskStarted {
            task_id: format!("t{n}"),
            attempt: 1,
            pid: 1,
            resumed: None,
        }
        .into()
    }

    fn finished() -> RequestEvent {
        RequestEvent::Finished(RequestSummary {
            request_id: "r".into(),
            session: "s".into(),
            status: RequestStatus::Succeeded,
            reason: None,
            answer: "A".into(),
            cost_usd: 0.0,
            tasks: vec![],
        })
    }

    #[tokio::test]
    async fn a_slow_client_loses_progress_not_lifecycle_and_never_the_end() {
        let (sink, mut stream) = event_queue(4);
        for n in 0..100 {
            sink.send(progress(n)).unwrap();
        }
        for n in 0..3 {
            sink.send(started(n)).unwrap();
        }
        sink.send(finished()).unwrap();
        drop(sink);
        let mut got = Vec::new();
        while let Some(e) = stream.recv().await {
            got.push(e);
        }
        assert_eq!(got[0], Event::Lagged { dropped: 99 }.into());
        assert_eq!(
            got[1],
            progress(3),
            "lifecycle displaced the oldest progress"
        );
        assert_eq!(&got[2..5], &[started(0), started(1), started(2)]);
        assert_eq!(got[5], finished());
        assert_eq!(got.len(), 6);
    }

    #[tokio::test]
    async fn memory_stays_bounded_however_much_is_sent() {
        let (sink, stream) = event_queue(8);
        for n in 0..10_000 {
            sink.send(if n % 2 == 0 { progress(n) } else { started(n) })
                .unwrap();
        }
        assert!(stream.0.lock().queue.len() <= 8);
        assert_eq!(stream.0.lock().dropped, 10_000 - 8);
    }

    #[tokio::test]
    async fn a_listener_that_left_is_reported_to_the_run() {
        let (sink, stream) = event_queue(8);
        drop(stream);
        assert_eq!(sink.send(progress(1)), Err(ListenerGone));
    }

    #[tokio::test]
    async fn a_run_that_went_away_ends_the_stream() {
        let (sink, mut stream) = event_queue(8);
        sink.send(started(1)).unwrap();
        drop(sink);
        assert_eq!(stream.recv().await, Some(started(1)));
        assert_eq!(stream.recv().await, None);
    }
}
