//! Files on the thread pool (what aiofiles gives asyncio users): the loop
//! never blocks on the disk.
//!
//! ```
//! corio::run(async {
//!     let dir = std::env::temp_dir().join(format!("corio-fs-doc-{}", std::process::id()));
//!     corio::fs::create_dir_all(&dir).await.unwrap();
//!     let file = dir.join("hello.txt");
//!     corio::fs::write(&file, "hello").await.unwrap();
//!     assert_eq!(corio::fs::read_to_string(&file).await.unwrap(), "hello");
//!     assert_eq!(corio::fs::metadata(&file).await.unwrap().len(), 5);
//!     corio::fs::remove_dir_all(&dir).await.unwrap();
//! });
//! ```

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    crate::to_thread(f).await.unwrap_or_else(|e| Err(e.into()))
}

/// Reads a whole file.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read(path)).await
}

/// Reads a whole file as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read_to_string(path)).await
}

/// Writes a whole file (creating or truncating it).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    blocking(move || std::fs::write(path, contents)).await
}

/// Metadata of a path (following symlinks).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::metadata(path)).await
}

/// Creates a directory and its missing parents.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::create_dir_all(path)).await
}

/// Removes a file.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    blocking(move || std::fs::rename(from, to)).await
}

/// Copies a file; returns the bytes copied.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    blocking(move || std::fs::copy(from, to)).await
}

/// The entries of a directory (their paths, in the order the OS gives).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let path = path.as_ref().to_owned();
    blocking(move || {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    })
    .await
}
