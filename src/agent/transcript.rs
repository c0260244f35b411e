//! An attempt's transcript: the worker's stream-json lines as it printed them (the partial
//! messages' `stream_event` lines left out: the complete messages follow them), in a file of
//! its own under the data directory, capped — `smith logs` reads it back, the retention removes
//! it with its request. A write that fails stops the transcript, never the attempt.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// Where an attempt's transcript goes, and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptFile {
    /// The file (its directory is made).
    pub path: PathBuf,
    /// Bytes at most; the lines past it are counted, not written.
    pub max_bytes: u64,
}

/// The line that says how many lines the cap left out (the last of a cut transcript).
pub const CUT_MARK: &str = "smith_transcript_cut";

/// An open transcript.
pub(super) struct Transcript {
    file: Option<File>,
    spec: TranscriptFile,
    written: u64,
    dropped: u64,
}

impl Transcript {
    /// Opens (creates, or appends to) `spec`'s file; `None` when it cannot be (logged).
    pub fn open(spec: TranscriptFile) -> Option<Self> {
        let opened = spec
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&spec.path)
            });
        match opened {
            Ok(file) => Some(Self {
                file: Some(file),
                written: file_len(&spec.path),
                spec,
                dropped: 0,
            }),
            Err(e) => {
                tracing::warn!(path = %spec.path.display(), error = %e, "cannot write the attempt's transcript; it runs without one");
                None
            }
        }
    }

    /// Appends one line (or counts it, past the cap).
    pub fn line(&mut self, text: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let len = text.len() as u64 + 1;
        if self.written + len > self.spec.max_bytes {
            self.dropped += 1;
            return;
        }
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        match file.write_all(&line) {
            Ok(()) => self.written += len,
            Err(e) => {
                tracing::warn!(path = %self.spec.path.display(), error = %e, "the attempt's transcript stops here: cannot write it");
                self.file = None;
            }
        }
    }

    /// Ends it: what the cap left out is said on its last line.
    pub fn close(&mut self) {
        if self.dropped > 0
            && let Some(file) = self.file.as_mut()
        {
            let mark = serde_json::json!({"type": CUT_MARK, "lines_dropped": self.dropped,
                "max_bytes": self.spec.max_bytes});
            let _ = writeln!(file, "{mark}");
        }
        self.file = None;
    }
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_cap_are_counted_and_said_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r-1/t1-1.jsonl");
        let mut t = Transcript::open(TranscriptFile {
            path: path.clone(),
            max_bytes: 20,
        })
        .unwrap();
        t.line("{\"a\":1}");
        t.line("{\"b\":2}");
        t.line("{\"c\":3}");
        t.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["{\"a\":1}", "{\"b\":2}"]);
        assert!(
            lines[2].contains(CUT_MARK) && lines[2].contains("\"lines_dropped\":1"),
            "{text}"
        );
    }

    #[test]
    fn a_transcript_that_cannot_be_written_is_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let spec = TranscriptFile {
            path: dir.path().join("file/t1-1.jsonl"),
            max_bytes: 100,
        };
        assert!(Transcript::open(spec).is_none());
    }
}
