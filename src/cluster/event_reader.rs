//! Reads one attempt's events from the events stream, in order, from its first: an ephemeral
//! pull consumer on the attempt's subject, long-polled; when the consumer is gone (a restart of
//! nats-server forgets it) or the connection drops, it is made again from the next sequence, so
//! nothing the node said is missed or read twice.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;

use super::wire::{NodeEvent, events_subject};

/// The reader of one attempt's events.
pub struct EventReader {
    stream: Stream,
    subject: String,
    /// The stream sequence to read from next (0: the first of the subject).
    next: u64,
    consumer: Option<consumer::PullConsumer>,
    read: VecDeque<(u64, NodeEvent)>,
}

impl EventReader {
    /// A reader of attempt `key`'s events on `stream`.
    pub fn new(stream: Stream, key: &str) -> Self {
        Self {
            stream,
            subject: events_subject(key),
            next: 0,
            consumer: None,
            read: VecDeque::new(),
        }
    }

    /// The next event and its stream sequence (waits as long as it takes).
    pub async fn next(&mut self) -> (u64, NodeEvent) {
        loop {
            if let Some(e) = self.read.pop_front() {
                return e;
            }
            let consumer = match &self.consumer {
                Some(c) => c.clone(),
                None => match self.make().await {
                    Ok(c) => {
                        self.consumer = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        tracing::debug!(subject = %self.subject, error = %e, "cannot read events yet");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                },
            };
            let batch = consumer
                .fetch()
                .max_messages(64)
                .expires(Duration::from_secs(1))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(subject = %self.subject, error = %e, "reading events; making the reader again");
                    self.consumer = None;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            };
            // A pull the server forgot (it restarted) is never answered: the batch is given a
            // deadline of its own.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            loop {
                let m = match tokio::time::timeout_at(deadline, batch.next()).await {
                    Ok(Some(Ok(m))) => m,
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(subject = %self.subject, error = %e, "reading events; making the reader again");
                        self.consumer = None;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        break;
                    }
                    Err(_) => {
                        tracing::debug!(subject = %self.subject, "a pull went unanswered; making the reader again");
                        self.consumer = None;
                        break;
                    }
                };
                let Ok(info) = m.info() else { continue };
                let seq = info.stream_sequence;
                if seq < self.next {
                    continue;
                }
                self.next = seq + 1;
                match serde_json::from_slice::<NodeEvent>(&m.payload) {
                    Ok(e) => self.read.push_back((seq, e)),
                    Err(e) => {
                        tracing::warn!(subject = %self.subject, error = %e, "an unreadable event from a node")
                    }
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
