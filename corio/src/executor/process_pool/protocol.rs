//! The pipe protocol between the pool and its workers: length-prefixed
//! postcard frames, after a fixed greeting from the worker.

use serde::{Deserialize, Serialize};

use super::job::JobFailure;

/// Set in a worker's environment; `worker_main` serves jobs when it sees it.
pub(crate) const WORKER_ENV: &str = "CORIO_PROCESS_POOL_WORKER";
/// The parent's pid, so a worker whose parent already died exits.
pub(crate) const PARENT_ENV: &str = "CORIO_PROCESS_POOL_PARENT";
/// The first bytes a worker writes: proof that `worker_main` runs.
pub(crate) const GREETING: &[u8; 16] = b"corio-worker-v1\n";
/// Frames larger than this are refused (a corrupt length, not a real job).
pub(crate) const MAX_FRAME: usize = 1 << 30;

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Request {
    pub(crate) job: String,
    pub(crate) arg: Vec<u8>,
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Response {
    pub(crate) result: Result<Vec<u8>, JobFailure>,
}

/// `len (u32 LE) ++ bytes`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}
