//! Speaking the control protocol by hand, as a hostile or clumsy client would: raw frames over a
//! blocking Unix stream.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use smith::protocol::frame::{decode, encode};
use smith::protocol::{Hello, PROTOCOL_VERSION, Request, Response};

/// A connection with a read timeout.
pub fn connect(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// The current hello.
pub fn hello_frame() -> Vec<u8> {
    encode(&Hello {
        protocol_version: PROTOCOL_VERSION,
        client_version: "test".into(),
        traceparent: None,
    })
    .unwrap()
}

/// A connection that completed the handshake.
pub fn handshaken(socket: &Path) -> UnixStream {
    let mut s = connect(socket);
    s.write_all(&hello_frame()).unwrap();
    match read_response(&mut s) {
        Some(Response::Welcome(_)) => s,
        other => panic!("no welcome: {other:?}"),
    }
}

/// Sends one request.
pub fn send(s: &mut UnixStream, request: &Request) {
    s.write_all(&encode(request).unwrap()).unwrap();
}

/// Reads one response frame; `None` when the connection is closed (or times out).
pub fn read_response(s: &mut UnixStream) -> Option<Response> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).ok()?;
    decode(&payload).ok()
}

/// Whether the peer closed the connection (reading what is left first).
pub fn closed(s: &mut UnixStream) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

/// A frame holding a u32 (1) then a string whose length is announced as `len` (a u64 varint).
pub fn string_bomb(len: u64) -> Vec<u8> {
    let mut payload = vec![1u8, 253];
    payload.extend_from_slice(&len.to_be_bytes());
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend(payload);
    frame
}
