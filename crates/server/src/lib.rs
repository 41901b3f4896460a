//! sitrep-server
