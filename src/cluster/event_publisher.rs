//! An attempt's events as a node publishes them: in order, each acked by JetStream before the
//! next, one that fails sent again with the same message id (`Nats-Msg-Id`: stored once) until
//! it is stored — or dropped once the node has been cut off for the whole lease (the control
//! plane has moved on by then); and how long it has not been able to publish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::wire::{NodeEvent, events_subject};

/// Publishes an attempt's events in order (each acked by JetStream before the next; one that
/// fails is sent again, with the same message id, until it is stored), and knows how long it
/// has not been able to.
#[derive(Clone)]
pub(super) struct Publisher {
    tx: mpsc::UnboundedSender<NodeEvent>,
    last_ok: Arc<Mutex<Instant>>,
    done: Arc<tokio::sync::Notify>,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

impl Publisher {
    pub(super) fn start(js: jetstream::Context, key: &str, lease: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<NodeEvent>();
        let me = Self {
            tx,
            last_ok: Arc::new(Mutex::new(Instant::now())),
            done: Arc::new(tokio::sync::Notify::new()),
            finished: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let (subject, key) = (events_subject(key), key.to_string());
        let (last_ok, done, finished) = (me.last_ok.clone(), me.done.clone(), me.finished.clone());
        tokio::spawn(async move {
            let mut seq = 0u64;
            while let Some(event) = rx.recv().await {
                seq += 1;
                let Ok(payload) = serde_json::to_vec(&event) else {
                    continue;
                };
                let payload = bytes::Bytes::from(payload);
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("{key}.{seq}").as_str());
                loop {
                    let sent = match js
                        .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
                        .await
                    {
                        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    match sent {
                        Ok(()) => {
                            *last_ok.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            break;
                        }
                        Err(e) => {
                            let silent =
                                last_ok.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
                            // Past the lease the control plane has moved on: what is left is
                            // for nobody.
                            if silent > lease {
                                tracing::warn!(attempt = %key, error = %e, "events of a lost attempt dropped");
                                rx.close();
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
            done.notify_waiters();
        });
        me
    }

    pub(super) fn send(&self, event: NodeEvent) {
        let _ = self.tx.send(event);
    }

    /// How long since JetStream last stored one of the events.
    pub(super) fn silent_for(&self) -> Duration {
        self.last_ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Waits until everything sent is published (or given up).
    pub(super) async fn finish(self) {
        let Self {
            tx, done, finished, ..
        } = self;
        drop(tx);
        let notified = done.notified();
        if !finished.load(std::sync::atomic::Ordering::SeqCst) {
            notified.await;
        }
    }
}
