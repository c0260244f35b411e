//! The end of a run: tasks settled, the answer merged (or the synthesizer's), the verdict, one
//! commit of it all — and only then the context moves and the listeners hear the answer. If the
//! commit fails, nothing is answered: the request is left `interrupted`, resumable.

use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::protocol::{RequestStatus, RequestSummary, TaskStatus};
use crate::store::Turn;
use crate::store::queries::{self, RequestEnd};
use crate::task::Task;
use crate::telemetry::semconv::{SMITH_ANSWER, SMITH_REQUEST_STATUS};

use super::context::bounded_turn;
use super::merge::{self, cut_to};
use super::request::RequestEvent;
use super::run::Run;
use super::state::SessionState;
use super::verdict::{settle, verdict};

fn settled(t: &Task) -> bool {
    !matches!(t.status, TaskStatus::Pending | TaskStatus::Running)
}

impl SessionState {
    /// Ends `run` (see the module doc).
    pub(super) async fn finish(&mut self, mut run: Run) {
        let stop = run.run_stop();
        for t in run.tasks.iter_mut().filter(|t| !settled(t)) {
            settle(t, stop);
        }
        let total = run.tasks.len();
        let ok = run.tasks.iter().filter(|t| t.succeeded()).count();
        let merge_span = tracing::info_span!(target: "smith::session", parent: &run.span, "merge",
            smith.request.id = %run.request_id, smith.merge.tasks = total, smith.merge.succeeded = ok);
        let deterministic = merge::deterministic(&run.tasks, &run.request_id);
        drop(merge_span);
        let synthesized = run
            .synthesizer
            .as_ref()
            .filter(|s| s.succeeded())
            .and_then(|s| s.output.clone());
        let keep_answer = ok > 0 || synthesized.is_some();
        let (answer, mode) = match synthesized {
            // The synthesizer's answer, with what the isolated tasks changed and what the CLI
            // refused after it.
            Some(text) => (
                merge::with_appendix(text, &run.tasks, &run.request_id),
                "synthesized",
            ),
            None => (deterministic, "deterministic"),
        };
        let limits = &self.deps.config.limits;
        let answer = cut_to(answer, limits.max_answer_bytes, "limits.max_answer_bytes");
        let (status, reason) = verdict(stop, &run.tasks, run.synthesizer.as_ref(), &run.notes);
        let cost = run.gate.spent();
        let end = RequestEnd {
            id: run.request_id.clone(),
            status,
            reason: reason.clone(),
            cost_usd: cost,
            answer: keep_answer.then(|| (answer.clone(), mode.to_string(), None::<String>)),
            tasks: run.all_tasks().cloned().collect(),
        };
        let committed = self
            .deps
            .store
            .call(move |c| queries::finish_request(c, &end))
            .await;
        let (status, reason, answer, keep_answer) = match committed {
            Ok(()) => (status, reason, answer, keep_answer),
            Err(e) => {
                tracing::error!(session = %self.name, request = %run.request_id, error = %e, "cannot commit the end of a request; it is left interrupted");
                let rid = run.request_id.clone();
                if let Err(again) = self
                    .deps
                    .store
                    .call(move |c| queries::mark_interrupted(c, &rid))
                    .await
                {
                    tracing::error!(request = %run.request_id, error = %again, "cannot mark the request interrupted either; the next start of smithd will");
                }
                let why = format!(
                    "its end could not be committed ({e}), so it is not answered; it is left interrupted: once the database works again, `smith resume {}` finishes it",
                    run.request_id
                );
                (RequestStatus::Interrupted, Some(why), String::new(), false)
            }
        };
        if matches!(status, RequestStatus::Succeeded | RequestStatus::Degraded) {
            let turn = Turn {
                request_id: run.request_id.clone(),
                seq: self.history.last().map_or(1, |t| t.seq + 1),
                prompt: run.spec.prompt.clone(),
                answer: answer.clone(),
                status,
            };
            self.history
                .push(bounded_turn(turn, self.deps.config.context.max_chars));
            // The Session holds only what a slice can use: the last `turns` turns.
            let keep = self.deps.config.context.turns.max(1);
            if self.history.len() > keep {
                let cut = self.history.len() - keep;
                self.history.drain(..cut);
            }
        }
        tracing::info!(session = %self.name, request = %run.request_id, status = %status, cost_usd = cost, tasks = total, succeeded = ok, "request finished");
        record_end(
            &run,
            status,
            reason.as_deref(),
            &answer,
            self.deps.config.record_content,
        );
        let summary = RequestSummary {
            request_id: run.request_id.clone(),
            session: self.name.clone(),
            status,
            reason,
            answer: if keep_answer { answer } else { String::new() },
            cost_usd: cost,
            tasks: run.tasks.iter().map(Task::summary).collect(),
        };
        run.emit(RequestEvent::Finished(summary));
        let slice_bytes = run.spec.prompt.len().saturating_mul(total.max(1));
        drop(run);
        if total >= 64 || slice_bytes >= 8 << 20 {
            // A big request (many tasks, or a long prompt copied into every slice) frees many
            // large buffers (slices, outputs, the answer); give the memory back to the OS instead
            // of letting the allocator keep its high-water mark — now, and once more after the
            // client has taken its copy of the summary.
            release_free_memory();
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                release_free_memory();
            });
        }
    }
}

/// The request's end on its span and in the metrics.
fn record_end(
    run: &Run,
    status: RequestStatus,
    reason: Option<&str>,
    answer: &str,
    record_content: bool,
) {
    run.span.record("smith.request.status", status.as_str());
    if matches!(status, RequestStatus::Failed | RequestStatus::Degraded) {
        run.span.record("error.type", status.as_str());
        run.span.set_status(opentelemetry::trace::Status::error(
            reason.map_or_else(|| status.to_string(), str::to_string),
        ));
    }
    if record_content {
        run.span.set_attribute(SMITH_ANSWER, answer.to_string());
    }
    crate::telemetry::metrics::metrics()
        .requests
        .add(1, &[KeyValue::new(SMITH_REQUEST_STATUS, status.as_str())]);
}

/// Returns freed heap memory to the OS (glibc keeps it otherwise).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has no preconditions and
    // is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
