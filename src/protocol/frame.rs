//! Frames: a 4-byte big-endian length, then a bincode (serde) payload. The length is checked
//! against the maximum before anything is allocated.

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What can go wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        expected: usize,
    },
    /// The announced length is over the limit.
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

fn config() -> bincode::config::Configuration<bincode::config::BigEndian> {
    bincode::config::standard().with_big_endian()
}

/// Encodes `msg` as one frame (length prefix included).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let payload = bincode::serde::encode_to_vec(msg, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
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

/// Reads one frame of at most `max` payload bytes.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]).await? {
            0 if got == 0 => return Err(FrameError::Closed),
            0 => return Err(FrameError::Truncated { got, expected: 4 }),
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut payload = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match r.read(&mut payload[got..]).await? {
            0 => return Err(FrameError::Truncated { got, expected: len }),
            n => got += n,
        }
    }
    let (msg, used) = bincode::serde::decode_from_slice(&payload, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != len {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            len - used
        )));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_round_trips() {
        let bytes = encode(&("hello".to_string(), 42u32)).unwrap();
        let mut r = &bytes[..];
        let back: (String, u32) = read_frame(&mut r, 1024).await.unwrap();
        assert_eq!(back, ("hello".to_string(), 42));
    }

    #[tokio::test]
    async fn oversized_truncated_garbage_and_closed_are_distinct_errors() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, String>(&mut r, 1024).await,
            Err(FrameError::TooLarge { .. })
        ));
        let mut r: &[u8] = &[0, 0, 0, 10, 1, 2];
        assert!(matches!(
            read_frame::<_, String>(&mut r, 1024).await,
            Err(FrameError::Truncated {
                got: 2,
                expected: 10
            })
        ));
        let mut r: &[u8] = &[0, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, String>(&mut r, 1024).await,
            Err(FrameError::Malformed(_))
        ));
        let mut r: &[u8] = &[];
        assert!(matches!(
            read_frame::<_, String>(&mut r, 1024).await,
            Err(FrameError::Closed)
        ));
    }
}
