//! The original bytes of every bill, kept as evidence under `<data_dir>/bills/<sha256>` (the ledger records the
//! SHA-256 with the file). Written to a temporary file beside the target while hashing, flushed, then renamed: a
//! crash leaves the old file or none, never half of one; the same bytes land on the same name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CoreError, CoreResult};

/// A bill kept in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBill {
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub byte_len: i64,
}

const COPY_BUFFER: usize = 256 * 1024;

/// Copies `input` into `dir/<sha256>`, hashing on the way; `progress(bytes)` after each block.
pub fn keep(dir: &Path, mut input: impl Read, mut progress: impl FnMut(u64)) -> CoreResult<StoredBill> {
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let tmp = dir.join(format!(".incoming.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| -> std::io::Result<(String, u64)> {
        let mut out = std::fs::File::create(&tmp)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0_u8; COPY_BUFFER];
        let mut total = 0_u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let block = buf.get(..n).unwrap_or_default();
            hasher.update(block);
            out.write_all(block)?;
            total = total.saturating_add(u64::try_from(n).unwrap_or(0));
            progress(total);
        }
        out.sync_all()?;
        Ok((hex::encode(hasher.finalize()), total))
    })();
    let (sha256, len) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(CoreError::io(&tmp, e));
        }
    };
    let path = dir.join(&sha256);
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CoreError::io(&path, e)
    })?;
    Ok(StoredBill { path, sha256, byte_len: i64::try_from(len).unwrap_or(i64::MAX) })
}

/// Keeps bytes already in memory (a download).
pub fn keep_bytes(dir: &Path, bytes: &[u8]) -> CoreResult<StoredBill> {
    keep(dir, bytes, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_land_on_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = keep_bytes(dir.path(), b"abc").unwrap();
        assert_eq!(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let b = keep_bytes(dir.path(), b"abc").unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::read(&a.path).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
