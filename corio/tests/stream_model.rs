//! Property test: `StreamReader` against a model of asyncio's rules, over
//! arbitrary bytes cut into arbitrary chunks (some reads return `Pending`
//! first), with arbitrary limits, separators and operations. No byte may be
//! lost, duplicated or reordered, and errors come exactly where the model
//! says.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use corio::stream::{StreamError, StreamReader};
use futures_io::AsyncRead;
use proptest::prelude::*;

/// An in-memory byte source delivering `chunks` one read at a time, with a
/// `Pending` (and self-wake) before every other chunk.
struct Chunked {
    chunks: VecDeque<Vec<u8>>,
    stall: bool,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.stall {
            self.stall = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.stall = true;
        let Some(chunk) = self.chunks.front_mut() else {
            return Poll::Ready(Ok(0));
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        Poll::Ready(Ok(n))
    }
}

#[derive(Clone, Debug)]
enum Op {
    ReadLine,
    ReadUntil(Vec<u8>),
    ReadExact(usize),
    Read(usize),
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Bytes(Vec<u8>),
    Overrun,
    Incomplete(Vec<u8>),
}

/// What asyncio's rules say `op` returns on the remaining stream `rest`,
/// and how many bytes it takes. `Read` is checked apart (any non-empty
/// prefix is right).
fn model(op: &Op, rest: &[u8], limit: usize) -> (Outcome, usize) {
    let until = |sep: &[u8]| {
        let found = rest.windows(sep.len()).position(|w| w == sep);
        match found {
            Some(i) if i <= limit => (
                Outcome::Bytes(rest[..i + sep.len()].to_vec()),
                i + sep.len(),
            ),
            Some(_) => (Outcome::Overrun, 0),
            None if rest.len() >= limit + sep.len() => (Outcome::Overrun, 0),
            None => (Outcome::Incomplete(rest.to_vec()), rest.len()),
        }
    };
    match op {
        Op::ReadUntil(sep) => until(sep),
        Op::ReadLine => match until(b"\n") {
            (Outcome::Incomplete(partial), n) => (Outcome::Bytes(partial), n),
            other => other,
        },
        Op::ReadExact(n) if rest.len() >= *n => (Outcome::Bytes(rest[..*n].to_vec()), *n),
        Op::ReadExact(_) => (Outcome::Incomplete(rest.to_vec()), rest.len()),
        Op::Read(_) => unreachable!("checked apart"),
    }
}

fn outcome(result: Result<Vec<u8>, StreamError>) -> Outcome {
    match result {
        Ok(bytes) => Outcome::Bytes(bytes),
        Err(StreamError::LimitOverrun { .. }) => Outcome::Overrun,
        Err(StreamError::IncompleteRead { partial, .. }) => Outcome::Incomplete(partial),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let byte = prop_oneof![Just(b'a'), Just(b'b'), Just(b'\n')];
    prop_oneof![
        Just(Op::ReadLine),
        prop::collection::vec(byte, 1..4).prop_map(Op::ReadUntil),
        (0usize..24).prop_map(Op::ReadExact),
        (1usize..24).prop_map(Op::Read),
    ]
}

fn check(data: Vec<u8>, cuts: Vec<usize>, limit: usize, ops: Vec<Op>) {
    let mut chunks = VecDeque::new();
    let mut at = 0;
    for cut in cuts {
        if at >= data.len() {
            break;
        }
        let end = (at + cut).min(data.len());
        chunks.push_back(data[at..end].to_vec());
        at = end;
    }
    if at < data.len() {
        chunks.push_back(data[at..].to_vec());
    }
    corio::run(async move {
        let source = Chunked {
            chunks,
            stall: true,
        };
        let mut reader = StreamReader::with_limit(source, limit);
        let mut pos = 0;
        for op in &ops {
            let rest = &data[pos..];
            match op {
                Op::Read(n) => {
                    let got = reader.read(*n).await.unwrap();
                    assert!(got.len() <= *n, "read({n}) returned {} bytes", got.len());
                    assert_eq!(got.is_empty(), rest.is_empty(), "read({n}) at {pos}");
                    assert_eq!(&got[..], &rest[..got.len()], "read({n}) at {pos}");
                    pos += got.len();
                }
                _ => {
                    let (expected, taken) = model(op, rest, limit);
                    let got = match op {
                        Op::ReadLine => outcome(reader.read_line().await),
                        Op::ReadUntil(sep) => outcome(reader.read_until(sep).await),
                        Op::ReadExact(n) => outcome(reader.read_exact(*n).await),
                        Op::Read(_) => unreachable!(),
                    };
                    assert_eq!(got, expected, "{op:?} at {pos} with limit {limit}");
                    pos += taken;
                }
            }
        }
        let tail = reader.read_to_end().await.unwrap();
        assert_eq!(tail, &data[pos..], "the bytes left after the operations");
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn stream_reader_matches_the_model(
        data in prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'\n')], 0..200),
        cuts in prop::collection::vec(1usize..40, 0..20),
        limit in 1usize..24,
        ops in prop::collection::vec(op_strategy(), 0..16),
    ) {
        check(data, cuts, limit, ops);
    }
}
