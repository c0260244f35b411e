//! Text from workers made safe to show on a terminal: control characters and terminal escape
//! sequences (which could move the cursor, rewrite what a person reads, or set the window title)
//! never reach it.

/// `text` on one line: a newline becomes `⏎`, a tab a space, every other control character
/// (ESC included, so no escape sequence survives; C1 controls too) a space.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => '⏎',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// `text` with its lines kept: every control character but the newline (and the tab) becomes a
/// space.
pub fn lines(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escape_sequence_or_control_character_survives() {
        let hostile = "ls\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{9b}31mred\nnext\tcol";
        let shown = one_line(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(shown.contains("owned") && shown.contains("⏎next"));
        let kept = lines(hostile);
        assert!(kept.contains("\nnext\tcol"));
        assert!(
            !kept
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
    }
}
