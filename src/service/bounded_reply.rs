//! Replies that always fit the client: long texts of a request are clipped (at a character
//! boundary) and listed as [`ClippedText`], and [`text_chunk`] hands any of them out whole, one
//! piece at a time.

use crate::protocol::{ClippedText, RequestInfo, ShowReply, TEXT_CHUNK_BYTES, TextChunk, TextPart};
use crate::store::RequestDetail;

/// Cuts `text` to at most `max` bytes; notes the cut in `clipped`.
fn clip(
    text: &mut String,
    max: usize,
    request_id: &str,
    part: TextPart,
    clipped: &mut Vec<ClippedText>,
) {
    if text.len() > max {
        clipped.push(ClippedText {
            request_id: request_id.to_string(),
            part,
            total_bytes: text.len() as u64,
        });
        text.truncate(text.floor_char_boundary(max));
    }
}

fn clip_opt(
    text: &mut Option<String>,
    max: usize,
    request_id: &str,
    part: TextPart,
    clipped: &mut Vec<ClippedText>,
) {
    if let Some(t) = text.as_mut() {
        clip(t, max, request_id, part, clipped);
    }
}

/// A request's own long texts clipped to `max` bytes each.
pub fn clip_request(r: &mut RequestInfo, max: usize, clipped: &mut Vec<ClippedText>) {
    let id = r.id.clone();
    clip(&mut r.prompt, max, &id, TextPart::Prompt, clipped);
    clip_opt(&mut r.answer, max, &id, TextPart::Answer, clipped);
}

/// A request in full with every long text clipped to `max` bytes (listed in its `clipped`).
pub fn clip_show(reply: &mut ShowReply, max: usize) {
    let mut clipped = Vec::new();
    clip_request(&mut reply.request, max, &mut clipped);
    let id = reply.request.id.clone();
    for t in &mut reply.tasks {
        let idx = t.idx;
        clip(
            &mut t.instruction,
            max,
            &id,
            TextPart::TaskInstruction(idx),
            &mut clipped,
        );
        let name_end = t.name.floor_char_boundary(max);
        t.name.truncate(name_end);
        clip_opt(
            &mut t.output,
            max,
            &id,
            TextPart::TaskOutput(idx),
            &mut clipped,
        );
    }
    for a in &mut reply.attempts {
        for text in [&mut a.detail, &mut a.stderr_tail].into_iter().flatten() {
            text.truncate(text.floor_char_boundary(max));
        }
    }
    reply.clipped = clipped;
}

/// The whole text `part` of a request, if it has one.
fn whole(detail: &RequestDetail, part: TextPart) -> Option<&str> {
    let task = |idx: u32| detail.tasks.iter().find(|t| t.id.index() == idx);
    match part {
        TextPart::Prompt => Some(&detail.request.prompt),
        TextPart::Answer => detail.request.answer.as_deref(),
        TextPart::TaskInstruction(i) => task(i).map(|t| t.instruction.as_str()),
        TextPart::TaskOutput(i) => task(i).and_then(|t| t.output.as_deref()),
    }
}

/// At most [`TEXT_CHUNK_BYTES`] of `part` from `offset` on (moved back to a char boundary);
/// `None` when the request has no such text.
pub fn text_chunk(detail: &RequestDetail, part: TextPart, offset: u64) -> Option<TextChunk> {
    let text = whole(detail, part)?;
    let start = text.floor_char_boundary(usize::try_from(offset).unwrap_or(usize::MAX));
    let end = text.floor_char_boundary(start.saturating_add(TEXT_CHUNK_BYTES));
    // A single character longer than a chunk cannot happen (at most 4 bytes), so end > start
    // unless the text is done.
    Some(TextChunk {
        part,
        offset: start as u64,
        total_bytes: text.len() as u64,
        text: text[start..end].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_at_a_character_boundary_and_says_so() {
        let mut s = "ééé".to_string(); // 6 bytes
        let mut clipped = Vec::new();
        clip(&mut s, 3, "r", TextPart::Prompt, &mut clipped);
        assert_eq!(s, "é");
        assert_eq!(
            clipped,
            vec![ClippedText {
                request_id: "r".into(),
                part: TextPart::Prompt,
                total_bytes: 6
            }]
        );
        let mut short = "ok".to_string();
        clip(&mut short, 3, "r", TextPart::Prompt, &mut clipped);
        assert_eq!(clipped.len(), 1);
    }
}
