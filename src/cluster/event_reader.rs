//! Reads one attempt's events from the events stream, in order, from its first: an ephemeral
//! pull consumer on the attempt's subject, long-polled; when the consumer is gone (a restart of
//! nats-server forgets it) or the connection drops, it is made again from the next sequence, so
//! nothing the node said is missed or read twice. Once the attempt's end is committed, its
//! events are acknowledged (`acknowledge`).

use std::time::Duration;

use async_nats::jetstream::consumer::{self, DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::wire::{NodeEvent, events_subject};
use crate::agent::Receipt;

/// The receipt of attempt `key`'s end, its events applied up to `seq` (the outcome's, or the
/// last heard of a lost node): once it is committed, the attempt's events are purged from the
/// stream (the acknowledgement of a stream that keeps events by age; a control plane started
/// later never reads them again, and a lost node's late words are for nobody).
pub fn acknowledge(stream: Stream, key: &str, seq: u64) -> Receipt {
    let subject = events_subject(key);
    let runtime = tokio::runtime::Handle::current();
    Receipt::new(seq, move || {
        let (stream, subject) = (stream.clone(), subject.clone());
        runtime.spawn(async move {
            match stream.purge().filter(subject.as_str()).await {
                Ok(p) => tracing::debug!(%subject, purged = p.purged, "outcome committed: events acknowledged"),
                Err(e) => tracing::warn!(%subject, error = %e, "cannot purge a finished attempt's events (they expire with the stream's max_age)"),
            }
        });
    })
}

/// The reader of one attempt's events.
struct EventReader {
    stream: Stream,
    subject: String,
    /// The stream sequence to read from next (0: the first of the subject).
    next: u64,
    consumer: Option<consumer::PullConsumer>,
    /// The pull being answered, and until when it may take.
    batch: Option<(pull::Batch, tokio::time::Instant)>,
}

/// An attempt's events as they come, read by a task of their own (so that whoever waits for
/// them may stop waiting at any time without losing one); the task ends when this is dropped.
pub struct Events {
    rx: mpsc::UnboundedReceiver<(u64, NodeEvent)>,
    task: tokio::task::JoinHandle<()>,
}

impl Events {
    /// Starts reading attempt `key`'s events on `stream`, from its first.
    pub fn start(stream: Stream, key: &str) -> Self {
        let mut reader = EventReader {
            stream,
            subject: events_subject(key),
            next: 0,
            consumer: None,
            batch: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let event = reader.next().await;
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        Self { rx, task }
    }

    /// The next event and its stream sequence (cancel-safe).
    pub async fn next(&mut self) -> (u64, NodeEvent) {
        match self.rx.recv().await {
            Some(e) => e,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventReader {
    /// Starts over: a new consumer from the next sequence (after a short pause).
    async fn again(&mut self, why: &str) {
        tracing::debug!(subject = %self.subject, %why, "making the event reader again");
        self.consumer = None;
        self.batch = None;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    /// The next event and its stream sequence, as soon as it is stored (waits as long as it
    /// takes).
    async fn next(&mut self) -> (u64, NodeEvent) {
        loop {
            let Some((batch, deadline)) = self.batch.as_mut() else {
                let consumer = match &self.consumer {
                    Some(c) => c.clone(),
                    None => match self.make().await {
                        Ok(c) => {
                            self.consumer = Some(c.clone());
                            c
                        }
                        Err(e) => {
                            self.again(&e).await;
                            continue;
                        }
                    },
                };
                // A long poll: messages come as they are stored, the pull ends after a second.
                match consumer
                    .batch()
                    .max_messages(64)
                    .expires(Duration::from_secs(1))
                    .messages()
                    .await
                {
                    // The pull ends after a second; one the server did not end (it restarted
                    // and forgot the consumer) is given up a little later.
                    Ok(b) => {
                        let end = tokio::time::Instant::now() + Duration::from_millis(1200);
                        self.batch = Some((b, end))
                    }
                    Err(e) => self.again(&e.to_string()).await,
                }
                continue;
            };
            let m = match tokio::time::timeout_at(*deadline, batch.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(None) => {
                    self.batch = None;
                    continue;
                }
                Ok(Some(Err(e))) => {
                    self.again(&e.to_string()).await;
                    continue;
                }
                Err(_) => {
                    self.again("a pull went unanswered").await;
                    continue;
                }
            };
            let Ok(info) = m.info() else { continue };
            let seq = info.stream_sequence;
            if seq < self.next {
                continue;
            }
            self.next = seq + 1;
            match serde_json::from_slice::<NodeEvent>(&m.payload) {
                Ok(e) => return (seq, e),
                Err(e) => {
                    tracing::warn!(subject = %self.subject, error = %e, "an unreadable event from a node")
                }
            }
        }
    }

    async fn make(&self) -> Result<consumer::PullConsumer, String> {
        let deliver_policy = match self.next {
            0 => DeliverPolicy::All,
            n => DeliverPolicy::ByStartSequence { start_sequence: n },
        };
        self.stream
            .create_consumer(pull::Config {
                filter_subject: self.subject.clone(),
                deliver_policy,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                memory_storage: true,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())
    }
}

impl Drop for EventReader {
    /// Removes the consumer (the server would after a minute of no reads).
    fn drop(&mut self) {
        let (Some(c), Ok(runtime)) = (self.consumer.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let stream = self.stream.clone();
        let name = c.cached_info().name.clone();
        runtime.spawn(async move {
            let _ = stream.delete_consumer(&name).await;
        });
    }
}
