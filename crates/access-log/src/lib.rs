//! The access log's pure part, with no database and no I/O of its own: the record and its
//! canonical encoding, the hash chain and its verifier, the checkpoint message (`chain`),
//! and the export formats with their readers (`export`). The SQL that writes, seals and
//! reads the log is in `sitrep-db` (`access_log`); the server's `access-log` commands and
//! the API's export use both. docs/access-log.md describes the log.

pub mod chain;
pub mod export;
