//! The migrations are embedded at compile time (`refinery::embed_migrations!`): rebuild
//! this crate when one is added, changed or removed, not only when Rust code changes.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
