//! sitrep-api
