//! Delivery of events to subscribers: Standard Webhooks signing, an SSRF-safe HTTP
//! client, the retry schedule, and the worker that drives the outbox.

pub mod client;
pub mod notify;
pub mod schedule;
pub mod signing;
pub mod worker;
