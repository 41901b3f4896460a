//! What the account administration tests share: a server under test, a password long
//! enough for its rules, and dates some days ahead.

use crate::helpers::TestApp;

pub const PASSWORD: &str = "a long enough password for tests";

pub fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

pub async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.auth.login.per_address_per_minute = 100_000).await
}
