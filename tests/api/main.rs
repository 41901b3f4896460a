//! The black-box tests of Sitrep: the real server over HTTPS against a real PostgreSQL
//! (one cluster per run, one database per test, cloned from a migrated template).
//! Run them with `deploy/test`, which provides the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access_log;
mod accounts;
mod admin;
mod admin_sequences;
mod attachment_process;
mod attachments;
mod attack;
mod audit;
mod auth;
mod authz;
mod bootstrap;
mod browser_session;
mod conditional;
mod console;
mod correlation;
mod credentials;
mod cursors;
mod deploy;
mod edge;
mod envelope;
mod faults;
mod feed;
mod fuzz;
mod hostile;
mod insider;
mod language;
mod machine;
mod notifications;
mod object_store;
mod openapi;
mod passwords;
mod pictures;
mod processes;
mod reference;
mod render;
mod replica;
mod reports;
mod schema_rules;
mod stix_tools;
mod stream;
mod summary;
mod taxii;
mod taxii_inbox;
mod taxii_inbox_hostile;
mod taxii_opentaxii;
mod taxii_peers;
mod taxii_peers_hostile;
mod threads;
mod tokens;
mod visibility;
mod webhooks;

mod db_tls;
mod drills;
