//! Errors of `StreamReader` (asyncio's `LimitOverrunError`,
//! `IncompleteReadError`).

use std::io;

/// Why a `StreamReader` read gave no (complete) result.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError {
    /// The socket failed.
    Io(io::Error),
    /// No separator within the reader's `limit` bytes (asyncio's
    /// `LimitOverrunError`). The data stays in the buffer: read it with
    /// `read`, or raise the limit and try again.
    LimitOverrun {
        /// Bytes buffered up to the separator (or all that were searched).
        consumed: usize,
    },
    /// EOF came before the separator or the requested count (asyncio's
    /// `IncompleteReadError`). The partial bytes were taken out of the buffer
    /// and are here.
    IncompleteRead {
        /// The bytes read before EOF.
        partial: Vec<u8>,
        /// How many bytes were asked for (`None` when reading to a separator).
        expected: Option<usize>,
    },
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Io(e) => write!(f, "{e}"),
            StreamError::LimitOverrun { consumed } => {
                write!(
                    f,
                    "separator not found within the stream limit ({consumed} bytes buffered)"
                )
            }
            StreamError::IncompleteRead {
                partial,
                expected: Some(n),
            } => {
                write!(f, "EOF after {} of {n} expected bytes", partial.len())
            }
            StreamError::IncompleteRead {
                partial,
                expected: None,
            } => {
                write!(f, "EOF before the separator, after {} bytes", partial.len())
            }
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> io::Error {
        match e {
            StreamError::Io(e) => e,
            StreamError::LimitOverrun { .. } => {
                io::Error::new(io::ErrorKind::InvalidData, e.to_string())
            }
            StreamError::IncompleteRead { .. } => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string())
            }
        }
    }
}
