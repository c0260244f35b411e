//! A warm worker of the real CLI 2.1.332 (against the fake Messages API): it waits silently for
//! its first message, answers it, and its attempt is recorded as a cold one's — its Claude
//! session id (the warm worker's own) and its transcript.

use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::real_cli::{configure_daemon, real_cli};
use crate::warm::warm_ready;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_worker_of_the_real_cli_answers_and_is_recorded_like_a_cold_one() {
    let Some(cli) = real_cli() else {
        return;
    };
    let api = FakeApi::start().await;
    let url = api.url();
    tokio::task::spawn_blocking(move || {
        let mut d = Daemon::new("");
        configure_daemon(&d, &cli, &url, "warm_pool = 1", &[]);
        d.start();
        let first = json_of(&d, &["ask", "--json", "first question"]);
        assert_eq!(first["status"], "succeeded", "{first}\n{}", d.log());
        warm_ready(&d, 1);
        let second = json_of(&d, &["ask", "--json", "second question"]);
        assert_eq!(second["status"], "succeeded", "{second}\n{}", d.log());
        assert!(
            second["answer"]
                .as_str()
                .unwrap()
                .contains("second question"),
            "{second}"
        );
        let id = second["request_id"].as_str().unwrap();
        let show = json_of(&d, &["show", "--json", id]);
        let attempt = &show["attempts"][0];
        assert_eq!(attempt["warm"], true, "{show}");
        // The session the warm worker was started with is the one recorded and in its transcript.
        let session = attempt["claude_session_id"].as_str().unwrap();
        assert_eq!(show["tasks"][0]["claude_session_id"], session);
        let logs = stdout(&d.smith(&["logs", id, "t1"]));
        assert!(
            logs.contains(&format!("Claude session {session}")),
            "{logs}"
        );
        let first_show = json_of(
            &d,
            &["show", "--json", first["request_id"].as_str().unwrap()],
        );
        assert_eq!(first_show["attempts"][0]["warm"], false);
        assert_ne!(
            first_show["attempts"][0]["claude_session_id"], attempt["claude_session_id"],
            "each attempt its own Claude session"
        );
    })
    .await
    .unwrap();
    drop(api);
}
