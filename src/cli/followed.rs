//! The text of the task `--follow` names, as its worker writes it: complete lines go above the
//! live lines, the line being written is shown last among them (on a terminal); off a terminal
//! the text is written as it comes. Worker text arrives sanitized; it is cut to the terminal
//! here, never interpreted.

/// Characters of the line being written shown under the live lines.
const PARTIAL_CHARS: usize = 120;

/// The followed task's text.
pub struct Followed {
    /// `t2`, or the task's name.
    pub task: String,
    partial: String,
    /// Text came as deltas: the whole messages (progress) are not shown again.
    pub streamed: bool,
}

impl Followed {
    /// Follows `task`.
    pub fn new(task: String) -> Self {
        Self {
            task,
            partial: String::new(),
            streamed: false,
        }
    }

    /// Whether `id` or `name` is the followed task.
    pub fn is(&self, id: &str, name: &str) -> bool {
        self.task == id || self.task == name
    }

    /// Takes more text; the lines it completes.
    pub fn push(&mut self, text: &str) -> Option<String> {
        self.partial.push_str(text);
        let end = self.partial.rfind('\n')?;
        let done: String = self.partial.drain(..=end).collect();
        Some(done)
    }

    /// The attempt ended: the line being written is complete.
    pub fn flush(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| format!("{}\n", std::mem::take(&mut self.partial)))
    }

    /// The line being written, cut for the live lines (`None`: none).
    pub fn partial(&self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let n = self.partial.chars().count();
        let tail: String = if n > PARTIAL_CHARS {
            let skip = n - PARTIAL_CHARS;
            format!("…{}", self.partial.chars().skip(skip).collect::<String>())
        } else {
            self.partial.clone()
        };
        Some(tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_go_out_the_line_being_written_stays() {
        let mut f = Followed::new("t2".into());
        assert!(f.is("t2", "x") && f.is("t9", "t2") && !f.is("t1", "a"));
        assert_eq!(f.push("Hello, wor"), None);
        assert_eq!(f.partial().as_deref(), Some("Hello, wor"));
        assert_eq!(f.push("ld.\nNext"), Some("Hello, world.\n".into()));
        assert_eq!(f.partial().as_deref(), Some("Next"));
        assert_eq!(f.flush(), Some("Next\n".into()));
        assert_eq!(f.partial(), None);
        f.push(&"x".repeat(500));
        assert_eq!(f.partial().unwrap().chars().count(), PARTIAL_CHARS + 1);
    }
}
