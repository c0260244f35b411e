//! The control protocol between `smith` and `smithd`, written down in one place: Unix socket,
//! length-prefixed bincode frames with a size limit checked before allocating, a version
//! handshake first, one [`Request`] enum and one [`Response`] enum with a struct per variant.

pub mod frame;
pub mod message;

pub use frame::{FrameError, MAX_FRAME_BYTES, ReadLimits, read_frame, write_frame};
pub use message::*;
