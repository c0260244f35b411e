//! A line reader with a maximum line length: an oversized line is reported (and skipped) without
//! ever holding more than the limit in memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One item read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its newline (lossy UTF-8).
    Text(String),
    /// A line longer than the limit; only its length was counted.
    Oversized(usize),
}

/// Reads lines of at most `max` bytes from a buffered reader.
pub struct LineReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Wraps `inner`; lines longer than `max` bytes become [`Line::Oversized`].
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: Vec::new(),
        }
    }

    /// The next line; `None` at end of input. A final line without a newline is returned too.
    /// Not cancel-safe: run it in a task of its own.
    pub async fn next(&mut self) -> std::io::Result<Option<Line>> {
        self.buf.clear();
        let mut oversized: Option<usize> = None;
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(match (oversized, self.buf.is_empty()) {
                    (Some(n), _) => Some(Line::Oversized(n)),
                    (None, true) => None,
                    (None, false) => Some(Line::Text(self.take_text())),
                });
            }
            let (part, found_newline) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], true),
                None => (chunk, false),
            };
            let used = part.len() + usize::from(found_newline);
            match oversized.as_mut() {
                Some(n) => *n += part.len(),
                None if self.buf.len() + part.len() > self.max => {
                    oversized = Some(self.buf.len() + part.len());
                    self.buf.clear();
                    self.buf.shrink_to(self.max.min(64 * 1024));
                }
                None => self.buf.extend_from_slice(part),
            }
            self.inner.consume(used);
            if found_newline {
                return Ok(Some(match oversized {
                    Some(n) => Line::Oversized(n),
                    None => Line::Text(self.take_text()),
                }));
            }
        }
    }

    fn take_text(&mut self) -> String {
        let bytes = std::mem::take(&mut self.buf);
        let mut s = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if s.ends_with('\r') {
            s.pop();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn read_all(input: &[u8], max: usize, cap: usize) -> Vec<Line> {
        let mut r = LineReader::new(BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next().await.unwrap() {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_across_small_buffers() {
        let out = read_all(b"one\ntwo\r\nthree", 100, 2).await;
        assert_eq!(
            out,
            vec![
                Line::Text("one".into()),
                Line::Text("two".into()),
                Line::Text("three".into())
            ]
        );
    }

    #[tokio::test]
    async fn oversized_lines_are_counted_and_skipped() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\nafter\n");
        let out = read_all(&input, 100, 16).await;
        assert_eq!(
            out,
            vec![
                Line::Text("ok".into()),
                Line::Oversized(10_000),
                Line::Text("after".into())
            ]
        );
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_kept() {
        let out = read_all(b"abcd\nabcde\n", 4, 3).await;
        assert_eq!(out, vec![Line::Text("abcd".into()), Line::Oversized(5)]);
    }
}
