//! An attempt's watchdog clocks: the wall clock (`agent.timeout`) and the idle clock (no output
//! for `agent.idle_timeout`; `agent.tool_timeout` while a tool call runs, since a tool prints
//! nothing until its result). Both stand still while a tool call waits for a person: a worker
//! waiting for an approval is not hung, and the time a person takes is not the worker's.

use std::time::Duration;

use tokio::time::Instant;

use super::launch::Watchdogs;

/// `from + d`, or a point a year after `from` when that would overflow (durations are bounded by
/// configuration, this is the arithmetic's own guard).
pub(super) fn after_at(from: Instant, d: Duration) -> Instant {
    from.checked_add(d)
        .or_else(|| from.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(from)
}

/// `now + d`, checked (see [`after_at`]).
pub(super) fn after(d: Duration) -> Instant {
    after_at(Instant::now(), d)
}

/// The two clocks of one attempt.
#[derive(Debug)]
pub(super) struct Clocks {
    watchdogs: Watchdogs,
    wall: Instant,
    idle: Instant,
    paused_since: Option<Instant>,
}

impl Clocks {
    /// Clocks of an attempt that started at `started`.
    pub fn new(started: Instant, watchdogs: Watchdogs) -> Self {
        Self {
            watchdogs,
            wall: after_at(started, watchdogs.timeout),
            idle: after(watchdogs.idle_timeout),
            paused_since: None,
        }
    }

    /// Output arrived; `tool_running`: a tool call has no result yet.
    pub fn output(&mut self, tool_running: bool) {
        let limit = if tool_running {
            self.watchdogs.tool_timeout.max(self.watchdogs.idle_timeout)
        } else {
            self.watchdogs.idle_timeout
        };
        self.idle = after(limit);
    }

    /// What the idle clock allows now (for the message when it runs out).
    pub fn idle_limit(&self, tool_running: bool) -> Duration {
        if tool_running {
            self.watchdogs.tool_timeout.max(self.watchdogs.idle_timeout)
        } else {
            self.watchdogs.idle_timeout
        }
    }

    /// Stops both clocks (a call waits for a person) or starts them again (none waits): the
    /// wall clock moves on by the time they stood still, the idle clock starts afresh.
    pub fn pause(&mut self, paused: bool, tool_running: bool) {
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.wall = after_at(self.wall, since.elapsed());
                self.paused_since = None;
                self.output(tool_running);
            }
            _ => {}
        }
    }

    /// When the wall clock runs out (`None` while it stands still).
    pub fn wall(&self) -> Option<Instant> {
        self.paused_since.is_none().then_some(self.wall)
    }

    /// When the idle clock runs out (`None` while it stands still).
    pub fn idle(&self) -> Option<Instant> {
        self.paused_since.is_none().then_some(self.idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchdogs() -> Watchdogs {
        Watchdogs {
            timeout: Duration::from_secs(100),
            idle_timeout: Duration::from_secs(10),
            tool_timeout: Duration::from_secs(60),
            result_grace: Duration::from_secs(1),
            interrupt_grace: Duration::from_secs(1),
            term_grace: Duration::from_secs(1),
            max_line_bytes: 1024,
            stderr_tail_bytes: 1024,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_both_clocks_and_moves_the_wall_clock_by_its_length() {
        let start = Instant::now();
        let mut c = Clocks::new(start, watchdogs());
        assert_eq!(c.wall(), Some(start + Duration::from_secs(100)));
        assert_eq!(c.idle(), Some(start + Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(5)).await;
        c.pause(true, false);
        assert_eq!((c.wall(), c.idle()), (None, None));
        tokio::time::advance(Duration::from_secs(500)).await;
        c.pause(true, false);
        assert_eq!(c.wall(), None, "a second pause changes nothing");
        c.pause(false, false);
        assert_eq!(c.wall(), Some(start + Duration::from_secs(600)));
        assert_eq!(c.idle(), Some(start + Duration::from_secs(515)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_tool_gets_the_tool_timeout() {
        let start = Instant::now();
        let mut c = Clocks::new(start, watchdogs());
        c.output(true);
        assert_eq!(c.idle(), Some(start + Duration::from_secs(60)));
        assert_eq!(c.idle_limit(true), Duration::from_secs(60));
        c.output(false);
        assert_eq!(c.idle(), Some(start + Duration::from_secs(10)));
    }
}
