//! `smith show --full`: the texts a `show` reply carries only in part, fetched whole, one piece
//! at a time, and put back in place.

use crate::protocol::{Request, Response, ShowReply, TextPart, TextQuery};

use super::client::{Client, ClientError};

/// The text `part` of `request_id`, whole.
async fn fetch(
    client: &mut Client,
    request_id: &str,
    part: TextPart,
) -> Result<String, ClientError> {
    let mut text = String::new();
    loop {
        let query = Request::Text(TextQuery {
            request_id: request_id.to_string(),
            part,
            offset: text.len() as u64,
        });
        match client.call(&query).await? {
            Response::Text(chunk) => {
                let done = chunk.text.is_empty()
                    || chunk.offset + chunk.text.len() as u64 >= chunk.total_bytes;
                text.push_str(&chunk.text);
                if done {
                    return Ok(text);
                }
            }
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected reply to a text query: {other:?}"
                )));
            }
        }
    }
}

/// The reply with every clipped text whole (and nothing left listed as clipped).
pub async fn complete(client: &mut Client, mut reply: ShowReply) -> Result<ShowReply, ClientError> {
    for c in std::mem::take(&mut reply.clipped) {
        let whole = fetch(client, &c.request_id, c.part).await?;
        match c.part {
            TextPart::Prompt => reply.request.prompt = whole,
            TextPart::Answer => reply.request.answer = Some(whole),
            TextPart::TaskInstruction(i) => {
                if let Some(t) = reply.tasks.iter_mut().find(|t| t.idx == i) {
                    t.instruction = whole;
                }
            }
            TextPart::TaskOutput(i) => {
                if let Some(t) = reply.tasks.iter_mut().find(|t| t.idx == i) {
                    t.output = Some(whole);
                }
            }
        }
    }
    Ok(reply)
}
