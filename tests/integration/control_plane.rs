//! The control plane under a hostile local client's frames: frames that announce absurd lengths,
//! thousands of generated and mutated frames — smithd never aborts and answers `health`
//! afterwards. (`control_plane_clients`: clients that stall, idle or stop reading, large replies,
//! a huge `--timeout`, the socket's path.)

use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::daemon::Daemon;
use crate::support::wire::{closed, connect, handshaken, hello_frame, read_response, string_bomb};
use smith::protocol::frame::{decode, encode};
use smith::protocol::{
    Ask, AskSpec, CancelRequest, ErrorKind, HealthQuery, HistoryQuery, Request, Response,
    ShowQuery, StatusQuery, TextPart, TextQuery,
};

fn started(extra: &str) -> Daemon {
    let mut d = Daemon::new(extra);
    d.start();
    d
}

#[test]
fn a_hello_that_announces_a_terabyte_is_refused_and_smithd_lives() {
    let d = started("");
    for len in [1u64 << 40, 1 << 63, u64::MAX] {
        let mut s = connect(&d.socket());
        s.write_all(&string_bomb(len)).unwrap();
        match read_response(&mut s) {
            Some(Response::Error(e)) => {
                assert_eq!(e.kind, ErrorKind::BadRequest, "{}", e.message);
                assert!(e.message.contains("bad handshake"), "{}", e.message);
            }
            other => panic!("{len}: {other:?}"),
        }
        assert!(closed(&mut s));
        // Also after the handshake, inside a request (a History's session name).
        let mut s = handshaken(&d.socket());
        let mut payload = vec![3u8, 253];
        payload.extend_from_slice(&len.to_be_bytes());
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend(payload);
        s.write_all(&frame).unwrap();
        assert!(
            matches!(read_response(&mut s), Some(Response::Error(e)) if e.kind == ErrorKind::BadRequest)
        );
    }
    d.assert_serving();
}

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid requests to mutate (none that would start work or stop smithd).
fn seeds() -> Vec<Vec<u8>> {
    let ask = Request::Ask(Ask {
        spec: AskSpec {
            session: "fuzz".into(),
            prompt: "p".into(),
            tasks: vec!["a".into(), "b".into()],
            timeout: Some(Duration::from_secs(5)),
            ..AskSpec::default()
        },
        detach: true,
    });
    [
        ask,
        Request::Status(StatusQuery {}),
        Request::Health(HealthQuery {}),
        Request::History(HistoryQuery {
            session: "fuzz".into(),
            before: Some(3),
            limit: 2,
        }),
        Request::Show(ShowQuery {
            request_id: "r-1".into(),
        }),
        Request::Cancel(CancelRequest {
            request_id: "r-1".into(),
        }),
        Request::Text(TextQuery {
            request_id: "r-1".into(),
            part: TextPart::TaskOutput(1),
            offset: 0,
        }),
    ]
    .iter()
    .map(|r| encode(r).unwrap()[4..].to_vec())
    .collect()
}

/// One mutated payload: random bytes, flipped bytes, a huge varint planted at an offset, cut or
/// extended.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut p = seeds[rng.below(seeds.len())].clone();
    match rng.below(5) {
        0 => {
            let n = rng.below(64);
            p = (0..n).map(|_| rng.next() as u8).collect();
        }
        1 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(p.len());
                p[at] = rng.next() as u8;
            }
        }
        2 => {
            let at = rng.below(p.len() + 1);
            let marker = [251u8, 252, 253, 254][rng.below(4)];
            let mut bomb = vec![marker];
            bomb.extend(std::iter::repeat_n(0xff, 16));
            p.splice(at..at, bomb);
        }
        3 => {
            let at = rng.below(p.len() + 1);
            p.truncate(at);
        }
        _ => {
            let n = rng.below(32);
            p.extend((0..n).map(|_| rng.next() as u8));
        }
    }
    p
}

/// Requests a mutation may turn into that are not the point here (they would start work or
/// stop smithd).
fn harmful(payload: &[u8]) -> bool {
    matches!(
        decode::<Request>(payload),
        Ok(Request::Ask(_) | Request::Resume(_) | Request::Shutdown(_))
    )
}

#[test]
fn thousands_of_generated_and_mutated_frames_never_kill_smithd() {
    let d = started("");
    let pid = d.pid();
    let seeds = seeds();
    let mut rng = Rng(0x5eed_0f5a_1d00);
    let mut sent = 0;
    let started = Instant::now();
    while sent < 3000 {
        let payload = mutate(&mut rng, &seeds);
        if harmful(&payload) {
            continue;
        }
        let mut s = connect(&d.socket());
        let mut frame = Vec::new();
        // Half of them after a good handshake, half as the handshake itself.
        if sent % 2 == 0 {
            frame.extend(hello_frame());
        }
        // Sometimes the length prefix lies (over-long, or a frame cut short).
        let announced = match rng.below(8) {
            0 => payload.len() + 1 + rng.below(1 << 20),
            1 => rng.next() as u32 as usize,
            _ => payload.len(),
        };
        frame.extend((announced as u32).to_be_bytes());
        frame.extend(&payload);
        let _ = s.write_all(&frame);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Read whatever comes (an error, a welcome, a reply) until smithd closes.
        while read_response(&mut s).is_some() {}
        sent += 1;
    }
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok(),
        "smithd died:\n{}",
        d.log()
    );
    d.assert_serving();
    eprintln!("{sent} frames in {:?}", started.elapsed());
}
