//! Throughput of the attachments' segment encryption: this crate's `Sealer` (ring's
//! ChaCha20-Poly1305 under an HChaCha20 subkey) beside the `chacha20poly1305` crate's
//! STREAM, which produces the same bytes, over 256 MiB in 1 MiB pieces as an upload
//! arrives. `cargo run --release -p sitrep-auth --example segment_cipher`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::time::Instant;

use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::aead::stream::EncryptorBE32;
use chacha20poly1305::{Key, XChaCha20Poly1305};
use sitrep_auth::envelope::{DataKey, SEGMENT, Sealer};

const TOTAL: usize = 256 << 20;
const PIECE: usize = 1 << 20;

fn main() {
    let piece = vec![0x5au8; PIECE];
    for round in 1..=3 {
        let started = Instant::now();
        let mut sealer = Sealer::new(&DataKey::generate()).unwrap();
        let mut written = 0usize;
        for _ in 0..TOTAL / PIECE {
            written += sealer.push(&piece).unwrap().len();
        }
        written += sealer.finish().unwrap().len();
        let ours = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let mut theirs = EncryptorBE32::from_aead(XChaCha20Poly1305::new(&Key::from([7u8; 32])), (&[1u8; 19]).into());
        let mut written_theirs = 0usize;
        for _ in 0..TOTAL / PIECE {
            for segment in piece.chunks(SEGMENT) {
                written_theirs += theirs.encrypt_next(segment).unwrap().len();
            }
        }
        let portable = started.elapsed().as_secs_f64();
        assert!(written >= written_theirs);
        let mb = |s: f64| TOTAL as f64 / s / 1e6;
        println!(
            "round {round}: Sealer (ring) {:.0} MB/s, chacha20poly1305 STREAM {:.0} MB/s, ratio {:.2}",
            mb(ours),
            mb(portable),
            portable / ours
        );
    }
}
