//! Wrapping a connected socket into a reader/writer pair.

use std::net::Shutdown;

use super::{PeerAddr, StreamReader, StreamWriter};
use crate::net::{SplitStream, TcpStream, UnixStream};

pub(crate) fn tcp(stream: TcpStream) -> (StreamReader, StreamWriter) {
    let peer = stream.peer_addr().ok().map(PeerAddr::Inet);
    let local = stream.local_addr().ok().map(PeerAddr::Inet);
    let _ = stream.set_nodelay(true); // asyncio sets TCP_NODELAY on its streams too
    pair(stream, peer, local)
}

pub(crate) fn unix(stream: UnixStream) -> (StreamReader, StreamWriter) {
    let peer = stream.peer_addr().ok().map(PeerAddr::Unix);
    let local = stream.local_addr().ok().map(PeerAddr::Unix);
    pair(stream, peer, local)
}

pub(crate) fn pair<S: SplitStream + 'static>(
    stream: S,
    peer: Option<PeerAddr>,
    local: Option<PeerAddr>,
) -> (StreamReader, StreamWriter) {
    let (read, write) = stream.into_split_priv();
    let shared = write.shared();
    // `close` shuts both directions, as asyncio closes the whole socket.
    let closer: Box<dyn Fn()> = Box::new(move || {
        let _ = shared.shutdown_priv(Shutdown::Both);
    });
    (
        StreamReader::new(read),
        StreamWriter::with_parts(Box::new(write), Some(closer), peer, local),
    )
}
