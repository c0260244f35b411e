//! A bounded tail of a process's stderr: drained continuously, only the last bytes kept.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The last `cap` bytes written.
#[derive(Debug)]
pub struct StderrTail {
    cap: usize,
    bytes: VecDeque<u8>,
    total: u64,
}

impl StderrTail {
    /// A tail keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            bytes: VecDeque::with_capacity(cap.min(64 * 1024)),
            total: 0,
        }
    }

    /// Appends, dropping the oldest bytes beyond the cap.
    pub fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let data = if data.len() > self.cap {
            &data[data.len() - self.cap..]
        } else {
            data
        };
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.cap);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    /// The tail as text (lossy), marked when earlier output was dropped.
    pub fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        let text = String::from_utf8_lossy(&v).into_owned();
        if self.total > self.bytes.len() as u64 {
            format!(
                "[… {} earlier bytes dropped]\n{text}",
                self.total - self.bytes.len() as u64
            )
        } else {
            text
        }
    }

    /// Drains `reader` to its end into a tail of `cap` bytes.
    pub async fn drain<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> String {
        let mut tail = StderrTail::new(cap);
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => tail.push(&buf[..n]),
            }
        }
        tail.text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_bytes_and_marks_the_drop() {
        let mut t = StderrTail::new(5);
        t.push(b"abc");
        assert_eq!(t.text(), "abc");
        t.push(b"defg");
        assert_eq!(t.text(), "[… 2 earlier bytes dropped]\ncdefg");
        t.push(b"0123456789");
        assert!(t.text().ends_with("56789"));
    }

    #[tokio::test]
    async fn drain_reads_everything() {
        let data = vec![b'z'; 100_000];
        let text = StderrTail::drain(&data[..], 10).await;
        assert!(text.ends_with("zzzzzzzzzz"));
        assert!(text.contains("99990 earlier bytes dropped"));
    }
}
