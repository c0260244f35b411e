//! How an accept loop rides out accept errors (out of file descriptors, say): log, pause, try
//! again, the pause doubling from 10 ms to 1 s while the errors last. It never ends the loop.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(10);
const LONGEST: Duration = Duration::from_secs(1);

/// The pause of one accept loop.
pub(crate) struct AcceptPause(Duration);

impl AcceptPause {
    pub(crate) fn new() -> Self {
        Self(FIRST)
    }

    /// An accept succeeded: the next error pauses briefly again.
    pub(crate) fn reset(&mut self) {
        self.0 = FIRST;
    }

    /// An accept of `what` failed with `error`: logs it and waits before the next one.
    pub(crate) async fn failed(&mut self, what: &str, error: &std::io::Error) {
        tracing::warn!(%error, retry_in = ?self.0, "{what}: accept failed");
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(LONGEST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pause_doubles_to_a_second_and_starts_over_after_a_success() {
        let e = std::io::Error::other("EMFILE");
        let mut p = AcceptPause::new();
        let mut waited = Vec::new();
        for _ in 0..9 {
            let t = tokio::time::Instant::now();
            p.failed("test", &e).await;
            waited.push(t.elapsed().as_millis());
        }
        assert_eq!(waited, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        p.reset();
        let t = tokio::time::Instant::now();
        p.failed("test", &e).await;
        assert_eq!(t.elapsed().as_millis(), 10);
    }
}
