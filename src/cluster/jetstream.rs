//! The streams, the consumer and the bucket of the cluster (see `wire`), made when missing by
//! whoever comes first — the control plane or a node — with the same settings, so either may
//! start first.

use async_nats::jetstream::{self, consumer, kv, stream};

use super::wire::*;

/// Why the cluster's streams cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up JetStream's {what}: {why}")]
pub struct SetupError {
    /// Which part.
    pub what: &'static str,
    /// Why.
    pub why: String,
}

fn failed(what: &'static str) -> impl FnOnce(String) -> SetupError {
    move |why| SetupError { what, why }
}

/// The cluster's JetStream parts.
#[derive(Clone)]
pub struct Streams {
    /// The JetStream context.
    pub js: jetstream::Context,
    /// `SMITH_WORK`.
    pub work: stream::Stream,
    /// `SMITH_EVENTS`.
    pub events: stream::Stream,
    /// `smith_nodes`.
    pub nodes: kv::Store,
}

impl Streams {
    /// Opens (and makes, when missing) everything.
    pub async fn open(client: async_nats::Client) -> Result<Self, SetupError> {
        let js = jetstream::new(client);
        let work = js
            .get_or_create_stream(stream::Config {
                name: WORK_STREAM.into(),
                subjects: vec![WORK_SUBJECT.into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                // A repeated publish of one attempt is one message.
                duplicate_window: std::time::Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| failed("stream SMITH_WORK")(e.to_string()))?;
        let events = js
            .get_or_create_stream(stream::Config {
                name: EVENTS_STREAM.into(),
                subjects: vec![EVENTS_SUBJECTS.into()],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                max_age: EVENTS_MAX_AGE,
                ..Default::default()
            })
            .await
            .map_err(|e| failed("stream SMITH_EVENTS")(e.to_string()))?;
        // The bucket's stream is made as a key-value bucket's (async-nats's own way asks the
        // account's limits in a form 2.9 does not answer in).
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{NODES_BUCKET}"),
            subjects: vec![format!("$KV.{NODES_BUCKET}.>")],
            max_messages_per_subject: 1,
            max_age: NODES_MAX_AGE,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| failed("bucket smith_nodes")(e.to_string()))?;
        let nodes = js
            .get_key_value(NODES_BUCKET)
            .await
            .map_err(|e| failed("bucket smith_nodes")(e.to_string()))?;
        Ok(Self {
            js,
            work,
            events,
            nodes,
        })
    }

    /// The consumer nodes pull dispatches from (made when missing): explicit acks, one
    /// delivery outstanding per fetch; a dispatch a node took but did not start within
    /// `ack_wait` goes to another node.
    pub async fn work_consumer(&self) -> Result<consumer::PullConsumer, SetupError> {
        self.work
            .get_or_create_consumer(
                WORK_CONSUMER,
                consumer::pull::Config {
                    durable_name: Some(WORK_CONSUMER.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: std::time::Duration::from_secs(30),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("consumer smith-nodes")(e.to_string()))
    }
}
