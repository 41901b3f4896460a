//! Encryption of stored files (evidence attachments). Each file has a random 256-bit data
//! key of its own and is encrypted with the STREAM construction (XChaCha20-Poly1305 in
//! 64 KiB segments, each authenticated and numbered, the last one marked), so that a file
//! is encrypted and decrypted segment by segment without being held whole, and a cut,
//! a reordering or a changed byte is detected. The data key is stored only sealed under
//! the key-encryption key ([`SealKey`], a file outside the database), bound to the file's
//! id: a copy of the storage, or of the storage and the database, gives ciphertext only.
//!
//! The segments are computed as XChaCha20-Poly1305 is defined: ChaCha20-Poly1305 under
//! the HChaCha20 subkey of the nonce's first 16 bytes. Those bytes lie inside STREAM's
//! nonce prefix, which is fixed for a file, so one subkey serves all its segments, and
//! ChaCha20-Poly1305 is ring's (assembly; about 1.6 times the portable implementation's
//! throughput here, docs/benchmarks.md). The bytes are those of the `chacha20poly1305`
//! crate's `StreamBE32<XChaCha20Poly1305>` (a property test compares the two), so files
//! stored before the change open unchanged.

use chacha20::cipher::consts::U10;
use rand::RngCore;
use rand::rngs::OsRng;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::SealKey;

/// Plaintext bytes per segment.
pub const SEGMENT: usize = 64 * 1024;
/// The authentication tag each segment adds.
pub const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"SITREPA1";
/// XChaCha20's 24-byte nonce less STREAM's 4-byte counter and 1-byte last-segment flag.
const NONCE_PREFIX: usize = 19;
/// The header of an encrypted file: magic and nonce prefix.
pub const HEADER: usize = MAGIC.len() + NONCE_PREFIX;

/// A file's data key.
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        DataKey(raw)
    }

    /// The key sealed under `kek` for the file `owner` (its id).
    pub fn wrap(&self, kek: &SealKey, owner: &[u8]) -> anyhow::Result<Vec<u8>> {
        kek.seal(&self.0, owner)
    }

    /// The key of file `owner` from its sealed form; fails under another key or owner.
    pub fn unwrap(kek: &SealKey, wrapped: &[u8], owner: &[u8]) -> anyhow::Result<DataKey> {
        let raw: [u8; 32] =
            kek.open(wrapped, owner)?.try_into().map_err(|_| anyhow::anyhow!("a data key is 32 bytes"))?;
        Ok(DataKey(raw))
    }
}

/// The segment cipher of one file: its data key's HChaCha20 subkey for the file's nonce
/// prefix, and the prefix's last three bytes, which begin every segment's nonce.
struct Segments {
    key: LessSafeKey,
    tail: [u8; 3],
}

impl Segments {
    fn new(key: &DataKey, prefix: &[u8; NONCE_PREFIX]) -> anyhow::Result<Segments> {
        let (head, tail) = prefix.split_at(16);
        let subkey = chacha20::hchacha::<U10>(&key.0.into(), head.into());
        let key = UnboundKey::new(&CHACHA20_POLY1305, &subkey)
            .map_err(|_| anyhow::anyhow!("a ChaCha20-Poly1305 key is 32 bytes"))?;
        Ok(Segments { key: LessSafeKey::new(key), tail: tail.try_into()? })
    }

    /// STREAM's nonce of segment `position` (big-endian counter, then the last-segment
    /// flag) less the 16 bytes the subkey took.
    fn nonce(&self, position: u32, last: bool) -> Nonce {
        let mut n = [0u8; 12];
        n[4..7].copy_from_slice(&self.tail);
        n[7..11].copy_from_slice(&position.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::assume_unique_for_key(n)
    }

    /// Appends segment `position` of `plain`, encrypted, and its tag to `out`.
    fn seal(&self, position: u32, last: bool, plain: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(position, last), Aad::empty(), &mut out[start..])
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }
}

/// How many segments a file of `size` plaintext bytes has (an empty file has one, empty).
pub fn segments(size: u64) -> u64 {
    size.div_ceil(SEGMENT as u64).max(1)
}

/// The length of the encrypted form of a file of `size` bytes.
pub fn ciphertext_len(size: u64) -> u64 {
    HEADER as u64 + size + segments(size) * TAG as u64
}

/// Room enough for what [`Sealer::push_into`] appends for `len` bytes of plaintext (with
/// the header, and the segment held back from before).
pub fn sealed_capacity(len: usize) -> usize {
    HEADER + SEGMENT + len + (len / SEGMENT + 2) * TAG
}

/// Encrypts a file given piece by piece: `push` returns what is ready to be written (the
/// header, then whole segments), `finish` the last segment. It holds at most one segment;
/// each byte is copied once, into the ciphertext, and encrypted there.
pub struct Sealer {
    segments: Segments,
    /// The number of the next segment.
    position: u32,
    header: Option<Vec<u8>>,
    /// The plaintext of the segment not yet encrypted: held back until more data comes,
    /// since only the last one is marked.
    held: Vec<u8>,
}

impl Sealer {
    pub fn new(key: &DataKey) -> anyhow::Result<Sealer> {
        let mut prefix = [0u8; NONCE_PREFIX];
        OsRng.fill_bytes(&mut prefix);
        let header = [MAGIC.as_slice(), &prefix].concat();
        Ok(Sealer {
            segments: Segments::new(key, &prefix)?,
            position: 0,
            header: Some(header),
            held: Vec::with_capacity(SEGMENT),
        })
    }

    fn seal_next(&mut self, plain: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
        self.segments.seal(self.position, false, plain, out)?;
        self.position =
            self.position.checked_add(1).ok_or_else(|| anyhow::anyhow!("a file has at most 2^32 segments"))?;
        Ok(())
    }

    /// Takes the next plaintext; returns the ciphertext ready to be written.
    pub fn push(&mut self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(sealed_capacity(data.len()));
        self.push_into(data, &mut out)?;
        Ok(out)
    }

    /// Takes the next plaintext; appends the ciphertext ready to be written to `out`.
    pub fn push_into(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
        while !data.is_empty() {
            if self.held.len() == SEGMENT {
                let held = std::mem::take(&mut self.held);
                self.seal_next(&held, out)?;
                self.held = held;
                self.held.clear();
            }
            if self.held.is_empty() && data.len() > SEGMENT {
                // A whole segment with more after it: encrypted straight from the input.
                let (segment, rest) = data.split_at(SEGMENT);
                self.seal_next(segment, out)?;
                data = rest;
                continue;
            }
            let take = (SEGMENT - self.held.len()).min(data.len());
            self.held.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// The last segment (and the header, for an empty file).
    pub fn finish(mut self) -> anyhow::Result<Vec<u8>> {
        let mut out = self.header.take().unwrap_or_default();
        self.segments.seal(self.position, true, &self.held, &mut out)?;
        Ok(out)
    }
}

/// Decrypts a file segment by segment: given the header and the plaintext size (kept
/// with the file's record), `open` takes each encrypted segment in turn (`SEGMENT + TAG`
/// bytes, the last one shorter) and returns its plaintext. It may start at any segment
/// (`at`): each segment is authenticated with its number and whether it is the last, so a
/// segment read from another place, or a last one that is not marked so, does not open.
pub struct Opener {
    segments: Segments,
    /// The number of the next segment.
    position: u64,
    total: u64,
}

impl Opener {
    pub fn new(key: &DataKey, header: &[u8], size: u64) -> anyhow::Result<Opener> {
        Opener::at(key, header, size, 0)
    }

    /// An opener whose first segment is number `first` (0 is the first of the file); the
    /// file is read from `segment_offset(first)`.
    pub fn at(key: &DataKey, header: &[u8], size: u64, first: u64) -> anyhow::Result<Opener> {
        if header.len() != HEADER || &header[..MAGIC.len()] != MAGIC {
            anyhow::bail!("not an encrypted attachment");
        }
        let total = segments(size);
        if first >= total || u32::try_from(total).is_err() {
            anyhow::bail!("segment {first} of a file of {total}");
        }
        let prefix: [u8; NONCE_PREFIX] = header[MAGIC.len()..].try_into()?;
        Ok(Opener { segments: Segments::new(key, &prefix)?, position: first, total })
    }

    /// Where segment `n` begins in the encrypted file.
    pub fn segment_offset(n: u64) -> u64 {
        HEADER as u64 + n * (SEGMENT + TAG) as u64
    }

    /// The length of the next encrypted segment for a file of `size` bytes, of which
    /// `done` plaintext bytes have been opened.
    pub fn next_len(size: u64, done: u64) -> usize {
        let left = size.saturating_sub(done);
        // At most SEGMENT + TAG: fits in usize.
        usize::try_from(left.min(SEGMENT as u64)).unwrap_or(SEGMENT) + TAG
    }

    pub fn open(&mut self, segment: &[u8]) -> anyhow::Result<Vec<u8>> {
        if self.position >= self.total {
            anyhow::bail!("more segments than the file has");
        }
        let position = u32::try_from(self.position)?;
        let last = self.position + 1 == self.total;
        self.position += 1;
        let mut plain = segment.to_vec();
        let len = self
            .segments
            .key
            .open_in_place(self.segments.nonce(position, last), Aad::empty(), &mut plain)
            .map_err(|_| anyhow::anyhow!("the attachment does not decrypt: damaged or not this key"))?
            .len();
        plain.truncate(len);
        Ok(plain)
    }

    /// Every segment up to the last has been opened.
    pub fn done(&self) -> bool {
        self.position >= self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seal_all(key: &DataKey, pieces: &[Vec<u8>]) -> Vec<u8> {
        let mut s = Sealer::new(key).unwrap();
        let mut out = Vec::new();
        for p in pieces {
            out.extend(s.push(p).unwrap());
        }
        out.extend(s.finish().unwrap());
        out
    }

    fn open_all(key: &DataKey, sealed: &[u8], size: u64) -> anyhow::Result<Vec<u8>> {
        let mut o = Opener::new(key, sealed.get(..HEADER).unwrap_or_default(), size)?;
        let mut at = HEADER;
        let mut out = Vec::new();
        while !o.done() {
            let len = Opener::next_len(size, out.len() as u64);
            let seg = sealed.get(at..at + len).ok_or_else(|| anyhow::anyhow!("short"))?;
            out.extend(o.open(seg)?);
            at += len;
        }
        if at != sealed.len() {
            anyhow::bail!("trailing bytes");
        }
        Ok(out)
    }

    #[test]
    fn a_file_round_trips_at_segment_boundaries() {
        let key = DataKey::generate();
        for size in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT] {
            let plain: Vec<u8> = (0..size).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let sealed = seal_all(&key, std::slice::from_ref(&plain));
            assert_eq!(sealed.len() as u64, ciphertext_len(size as u64), "size {size}");
            assert_eq!(open_all(&key, &sealed, size as u64).unwrap(), plain, "size {size}");
        }
    }

    #[test]
    fn a_file_opens_from_any_segment_and_a_segment_only_at_its_own_place() {
        let key = DataKey::generate();
        let size = 3 * SEGMENT + 5;
        let plain: Vec<u8> = (0..size).map(|i| u8::try_from(i % 253).unwrap()).collect();
        let sealed = seal_all(&key, std::slice::from_ref(&plain));
        let segment = |n: u64| {
            let at = usize::try_from(Opener::segment_offset(n)).unwrap();
            let len = Opener::next_len(size as u64, n * SEGMENT as u64);
            &sealed[at..at + len]
        };
        for first in 0..4u64 {
            let mut o = Opener::at(&key, &sealed[..HEADER], size as u64, first).unwrap();
            let mut out = Vec::new();
            for n in first..4 {
                out.extend(o.open(segment(n)).unwrap());
            }
            assert!(o.done());
            assert_eq!(out, plain[usize::try_from(first).unwrap() * SEGMENT..]);
        }
        // The second segment offered as the third, or the third as the last: refused.
        let mut o = Opener::at(&key, &sealed[..HEADER], size as u64, 2).unwrap();
        assert!(o.open(segment(1)).is_err());
        let mut o = Opener::at(&key, &sealed[..HEADER], size as u64, 3).unwrap();
        assert!(o.open(segment(2)).is_err());
        assert!(Opener::at(&key, &sealed[..HEADER], size as u64, 4).is_err(), "past the last segment");
    }

    #[test]
    fn wrapped_keys_open_only_for_their_file_and_key_encryption_key() {
        let kek = SealKey::from_bytes(&[3u8; 32]);
        let key = DataKey::generate();
        let wrapped = key.wrap(&kek, b"file-a").unwrap();
        assert_eq!(DataKey::unwrap(&kek, &wrapped, b"file-a").unwrap().0, key.0);
        assert!(DataKey::unwrap(&kek, &wrapped, b"file-b").is_err());
        assert!(DataKey::unwrap(&SealKey::from_bytes(&[4u8; 32]), &wrapped, b"file-a").is_err());
    }

    /// The same file encrypted by the `chacha20poly1305` crate's STREAM, segment by segment.
    fn seal_with_rustcrypto(key: &DataKey, prefix: &[u8], plain: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::KeyInit;
        use chacha20poly1305::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
        use chacha20poly1305::{Key, XChaCha20Poly1305};
        let stream = StreamBE32::from_aead(XChaCha20Poly1305::new(&Key::from(key.0)), prefix.into());
        let mut out = [MAGIC.as_slice(), prefix].concat();
        let count = segments(plain.len() as u64);
        for n in 0..count {
            let at = usize::try_from(n).unwrap() * SEGMENT;
            let part = &plain[at..(at + SEGMENT).min(plain.len())];
            out.extend(stream.encrypt(u32::try_from(n).unwrap(), n + 1 == count, part).unwrap());
        }
        out
    }

    proptest! {
        // Up to three segments of random bytes each: a few dozen cases cover the boundaries.
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn the_segments_are_the_bytes_of_xchacha20_poly1305_stream(
            plain in proptest::collection::vec(any::<u8>(), 0..(3 * SEGMENT + 7)),
            cut in 0usize..(3 * SEGMENT),
        ) {
            let key = DataKey::generate();
            let cut = cut.min(plain.len());
            let sealed = seal_all(&key, &[plain[..cut].to_vec(), plain[cut..].to_vec()]);
            let theirs = seal_with_rustcrypto(&key, &sealed[MAGIC.len()..HEADER], &plain);
            prop_assert!(sealed == theirs, "the ciphertexts differ");
        }

        #[test]
        fn any_file_in_any_pieces_round_trips_and_any_cut_or_flip_is_detected(
            plain in proptest::collection::vec(any::<u8>(), 0..(3 * SEGMENT)),
            cuts in proptest::collection::vec(0usize..(3 * SEGMENT), 0..6),
            flip in any::<prop::sample::Index>(),
            cut_at in any::<prop::sample::Index>(),
        ) {
            let key = DataKey::generate();
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c.min(plain.len())).collect();
            bounds.push(0);
            bounds.push(plain.len());
            bounds.sort_unstable();
            let pieces: Vec<Vec<u8>> = bounds.windows(2).map(|w| plain[w[0]..w[1]].to_vec()).collect();
            let sealed = seal_all(&key, &pieces);
            let size = plain.len() as u64;
            prop_assert_eq!(open_all(&key, &sealed, size).unwrap(), plain.clone());
            // The ciphertext does not contain the plaintext (beyond chance for tiny files).
            if plain.len() >= 32 {
                prop_assert!(!sealed.windows(32).any(|w| w == &plain[..32]));
            }
            let mut flipped = sealed.clone();
            let i = flip.index(flipped.len());
            flipped[i] ^= 0x01;
            prop_assert!(open_all(&key, &flipped, size).is_err());
            // Cut anywhere after the header and claimed as a shorter file: refused.
            let cut = HEADER + cut_at.index(sealed.len() - HEADER);
            if cut < sealed.len() {
                let shorter = (cut - HEADER) as u64;
                prop_assert!(open_all(&key, &sealed[..cut], shorter).is_err());
                prop_assert!(open_all(&key, &sealed[..cut], size).is_err());
            }
        }
    }
}
