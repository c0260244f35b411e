//! Frames: a 4-byte big-endian length, then a bincode (serde) payload. Both sides share one
//! bounded decoder configuration: the announced frame length is checked before anything is
//! allocated, every length inside the payload is bounded by bincode's decode limit, a frame that
//! has begun must complete within a deadline, and nothing is encoded that the peer would refuse.

use std::time::Duration;

use bincode::config::{BigEndian, Configuration, Limit, Varint};
use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload either side ever sends or accepts. Replies are checked against it before
/// they are written (so a client never meets a frame it refuses, and the u32 length prefix cannot
/// overflow); smithd's own limit for requests (`service.max_frame_bytes`) may only be lower.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The decoder's budget for allocations announced inside a payload (string and byte lengths,
/// container sizes). A legitimate payload never announces more than it holds, so the frame
/// ceiling is also the right bound for its contents.
pub const DECODE_LIMIT: usize = MAX_FRAME_BYTES;

/// The one bincode configuration of the protocol.
pub type WireConfig = Configuration<BigEndian, Varint, Limit<DECODE_LIMIT>>;

/// The one bincode configuration of the protocol, for both sides.
pub fn wire_config() -> WireConfig {
    bincode::config::standard()
        .with_big_endian()
        .with_limit::<DECODE_LIMIT>()
}

/// What can go wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// Nothing arrived between frames for the idle limit.
    #[error("no frame within {0:?}")]
    Idle(Duration),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        expected: usize,
    },
    /// A frame began but did not complete in time.
    #[error("a frame did not complete within {within:?} ({got} of {expected} bytes)")]
    Stalled {
        /// Bytes received.
        got: usize,
        /// Bytes announced (4 while the length itself is incomplete).
        expected: usize,
        /// The deadline.
        within: Duration,
    },
    /// The peer did not read what was written to it in time.
    #[error("the peer read nothing for {0:?}")]
    WriteStalled(Duration),
    /// The announced or encoded length is over the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// I/O failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
}

/// Limits of one frame read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest payload accepted (never above [`MAX_FRAME_BYTES`]).
    pub max_bytes: usize,
    /// How long to wait for a frame to begin (`None`: as long as it takes).
    pub idle: Option<Duration>,
    /// Once its first byte arrived, the whole frame must arrive within this.
    pub frame_timeout: Duration,
}

impl ReadLimits {
    /// At most `max_bytes`, no idle limit, 30 s to complete a frame.
    pub fn bytes(max_bytes: usize) -> Self {
        Self {
            max_bytes: max_bytes.min(MAX_FRAME_BYTES),
            idle: None,
            frame_timeout: Duration::from_secs(30),
        }
    }

    /// The same with an idle limit.
    pub fn idle(self, idle: Duration) -> Self {
        Self {
            idle: Some(idle),
            ..self
        }
    }
}

/// Encodes `msg` as one frame (length prefix included); refuses a payload over
/// [`MAX_FRAME_BYTES`].
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; 4];
    bincode::serde::encode_into_std_write(msg, &mut out, wire_config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = out.len() - 4;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_BYTES,
        });
    }
    let prefix = u32::try_from(len).map_err(|_| FrameError::TooLarge {
        len,
        max: MAX_FRAME_BYTES,
    })?;
    out[..4].copy_from_slice(&prefix.to_be_bytes());
    Ok(out)
}

/// Decodes one payload (without its length prefix) with the bounded configuration.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (msg, used) = bincode::serde::decode_from_slice(payload, wire_config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            payload.len() - used
        )));
    }
    Ok(msg)
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    let bytes = encode(msg)?;
    w.write_all(&bytes).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame within `limits`.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    limits: ReadLimits,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    // Waiting for the first byte is idling; everything after it is one frame with a deadline.
    let first = r.read(&mut len);
    let n = match limits.idle {
        Some(idle) => tokio::time::timeout(idle, first)
            .await
            .map_err(|_| FrameError::Idle(idle))??,
        None => first.await?,
    };
    if n == 0 {
        return Err(FrameError::Closed);
    }
    let within = limits.frame_timeout;
    let mut got = n;
    let mut expected = 4;
    let rest = async {
        while got < 4 {
            match r.read(&mut len[got..]).await? {
                0 => return Err(FrameError::Truncated { got, expected: 4 }),
                n => got += n,
            }
        }
        let announced = u32::from_be_bytes(len) as usize;
        let max = limits.max_bytes.min(MAX_FRAME_BYTES);
        if announced > max {
            return Err(FrameError::TooLarge {
                len: announced,
                max,
            });
        }
        expected = announced;
        got = 0;
        let mut payload = vec![0u8; announced];
        while got < announced {
            match r.read(&mut payload[got..]).await? {
                0 => {
                    return Err(FrameError::Truncated {
                        got,
                        expected: announced,
                    });
                }
                n => got += n,
            }
        }
        Ok(payload)
    };
    let payload = match tokio::time::timeout(within, rest).await {
        Ok(p) => p?,
        Err(_) => {
            return Err(FrameError::Stalled {
                got,
                expected,
                within,
            });
        }
    };
    decode(&payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ReadLimits {
        ReadLimits::bytes(1024)
    }

    #[tokio::test]
    async fn a_frame_round_trips() {
        let bytes = encode(&("hello".to_string(), 42u32)).unwrap();
        let mut r = &bytes[..];
        let back: (String, u32) = read_frame(&mut r, limits()).await.unwrap();
        assert_eq!(back, ("hello".to_string(), 42));
    }

    #[tokio::test]
    async fn oversized_truncated_garbage_and_closed_are_distinct_errors() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, String>(&mut r, limits()).await,
            Err(FrameError::TooLarge { .. })
        ));
        let mut r: &[u8] = &[0, 0, 0, 10, 1, 2];
        assert!(matches!(
            read_frame::<_, String>(&mut r, limits()).await,
            Err(FrameError::Truncated {
                got: 2,
                expected: 10
            })
        ));
        let mut r: &[u8] = &[0, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, String>(&mut r, limits()).await,
            Err(FrameError::Malformed(_))
        ));
        let mut r: &[u8] = &[];
        assert!(matches!(
            read_frame::<_, String>(&mut r, limits()).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_frame_that_began_must_complete_in_time() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 10, 1, 2]).await.unwrap();
        let limits = ReadLimits {
            frame_timeout: Duration::from_millis(50),
            ..limits()
        };
        let got = read_frame::<_, String>(&mut server, limits).await;
        assert!(
            matches!(
                got,
                Err(FrameError::Stalled {
                    got: 2,
                    expected: 10,
                    ..
                })
            ),
            "{got:?}"
        );
        // Silence before a frame is idling, with its own limit.
        let (_client, mut server) = tokio::io::duplex(64);
        let got =
            read_frame::<_, String>(&mut server, limits.idle(Duration::from_millis(20))).await;
        assert!(matches!(got, Err(FrameError::Idle(_))), "{got:?}");
    }

    #[test]
    fn nothing_is_encoded_that_the_peer_would_refuse() {
        let huge = "x".repeat(MAX_FRAME_BYTES + 1);
        assert!(matches!(encode(&huge), Err(FrameError::TooLarge { .. })));
    }
}
