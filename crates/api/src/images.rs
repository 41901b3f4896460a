//! Evidence images (docs/attachments.md, "Images"): an image is decoded under limits and
//! encoded again from its pixels alone, so that nothing of the original file's metadata
//! (EXIF with GPS position and camera serial, XMP, IPTC, comments, colour profiles)
//! survives; and a small PNG thumbnail is made the same way. The limits are checked
//! against the dimensions an image declares before any pixel is decoded, so a
//! decompression bomb (a small file declaring a huge image) is refused at once.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The widest or tallest image accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// The most memory decoding one image may take.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// The longest the server waits, by default, for one image to be decoded and encoded again
/// (`attachments.image_time_limit_ms`).
pub const MAX_DECODE_TIME: std::time::Duration = std::time::Duration::from_secs(30);
/// JPEG quality of a re-encoded JPEG.
const JPEG_QUALITY: u8 = 90;

/// Why an image was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageRefused {
    /// Its declared dimensions, or what decoding it would take, exceed the limits.
    #[error("the image is larger than {MAX_SIDE}×{MAX_SIDE} pixels or needs more than {MAX_ALLOC} bytes to decode")]
    TooLarge,
    /// It cannot be decoded as its type.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    /// Decoding and encoding it took longer than `attachments.image_time_limit_ms`.
    #[error("the image took too long to decode")]
    TooSlow,
}

impl ImageRefused {
    /// The field error of an upload refused for this reason (the decoder's own words go
    /// to the server's log, not to the client).
    pub fn invalid(&self) -> sitrep_domain::Invalid {
        let message = match self {
            ImageRefused::TooLarge => format!(
                "the image is larger than {MAX_SIDE}×{MAX_SIDE} pixels or needs more than {} MiB to decode",
                MAX_ALLOC / (1024 * 1024)
            ),
            ImageRefused::Undecodable(_) => "the content cannot be decoded as an image of its type".to_owned(),
            ImageRefused::TooSlow => self.to_string(),
        };
        sitrep_domain::Invalid::new("body", self.code(), message)
    }

    /// The code the access log records.
    pub fn code(&self) -> &'static str {
        match self {
            ImageRefused::TooLarge => "image_too_large",
            ImageRefused::Undecodable(_) => "image_undecodable",
            ImageRefused::TooSlow => "image_too_slow",
        }
    }
}

/// The format of an image media type this module handles.
pub fn format_of(media_type: &str) -> Option<ImageFormat> {
    match media_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/webp" => Some(ImageFormat::WebP),
        "image/gif" => Some(ImageFormat::Gif),
        _ => None,
    }
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

fn refused(e: image::ImageError) -> ImageRefused {
    match e {
        image::ImageError::Limits(_) => ImageRefused::TooLarge,
        other => ImageRefused::Undecodable(other.to_string()),
    }
}

/// Decodes `bytes` as `format` under the limits, turned upright as its EXIF orientation
/// says (the orientation is metadata too, and is not kept).
pub fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, ImageRefused> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(refused)?;
    let orientation = decoder.orientation().map_err(refused)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(refused)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// An image as it is stored: stripped, and its thumbnail.
#[derive(Debug)]
pub struct Prepared {
    pub stripped: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

/// The stripped image and its thumbnail, from one decoding.
pub fn prepare(bytes: &[u8], format: ImageFormat) -> Result<Prepared, ImageRefused> {
    let img = decode(bytes, format)?;
    Ok(Prepared { stripped: encode(&img, format)?, thumbnail: shrink(img)? })
}

/// The image encoded again in its own format from its pixels alone: no metadata.
/// A GIF keeps its first frame.
pub fn strip(bytes: &[u8], format: ImageFormat) -> Result<Vec<u8>, ImageRefused> {
    encode(&decode(bytes, format)?, format)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImageRefused> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Jpeg => img.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)),
        ImageFormat::WebP => img.to_rgba8().write_with_encoder(WebPEncoder::new_lossless(&mut out)),
        ImageFormat::Png => img.write_with_encoder(PngEncoder::new(&mut out)),
        other => img.write_to(&mut Cursor::new(&mut out), other),
    };
    written.map_err(|e| ImageRefused::Undecodable(e.to_string()))?;
    Ok(out)
}

/// A PNG thumbnail at most `THUMBNAIL_SIDE` on its longer side (never enlarged).
pub fn thumbnail(bytes: &[u8], format: ImageFormat) -> Result<Vec<u8>, ImageRefused> {
    shrink(decode(bytes, format)?)
}

fn shrink(img: DynamicImage) -> Result<Vec<u8>, ImageRefused> {
    let small = if img.width() > THUMBNAIL_SIDE || img.height() > THUMBNAIL_SIDE {
        img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        img
    };
    let mut out = Vec::new();
    small.write_with_encoder(PngEncoder::new(&mut out)).map_err(|e| ImageRefused::Undecodable(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::{Rgb, RgbImage};

    use super::*;

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let [.., r] = (x * 7).to_be_bytes();
            let [.., g] = (y * 5).to_be_bytes();
            let [.., b] = ((x + y) * 3).to_be_bytes();
            Rgb([r, g, b])
        })
    }

    /// An EXIF block (big-endian TIFF) whose GPS directory holds a latitude reference.
    fn exif_with_gps() -> Vec<u8> {
        let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
        // IFD0 at 8: one entry, GPSInfo (0x8825, LONG) pointing at offset 26.
        t.extend_from_slice(&[0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
        // GPS IFD at 26: GPSLatitudeRef (1, ASCII, 2) "N\0".
        t.extend_from_slice(&[0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 0, 0, 0]);
        t
    }

    /// A JPEG of a photo with an APP1 EXIF segment carrying a GPS position.
    fn jpeg_with_gps() -> Vec<u8> {
        let mut plain = Vec::new();
        photo(64, 48).write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 90)).unwrap();
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend(exif_with_gps());
        let len = u16::try_from(payload.len() + 2).unwrap();
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(payload);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn has_gps(bytes: &[u8]) -> bool {
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .is_ok_and(|e| e.get_field(exif::Tag::GPSLatitudeRef, exif::In::PRIMARY).is_some())
    }

    #[test]
    fn a_jpeg_loses_its_gps_exif_and_keeps_its_picture() {
        let original = jpeg_with_gps();
        assert!(has_gps(&original), "the test image carries GPS EXIF");
        let stripped = strip(&original, ImageFormat::Jpeg).unwrap();
        assert!(exif::Reader::new().read_from_container(&mut Cursor::new(&stripped)).is_err(), "no EXIF at all");
        assert!(!stripped.windows(4).any(|w| w == b"Exif"));
        let back = decode(&stripped, ImageFormat::Jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (64, 48));
    }

    #[test]
    fn every_format_is_encoded_again_in_that_format() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif] {
            let mut bytes = Vec::new();
            DynamicImage::ImageRgb8(photo(40, 30)).write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            let stripped = strip(&bytes, format).unwrap();
            assert_eq!(image::guess_format(&stripped).unwrap(), format);
            let thumb = thumbnail(&bytes, format).unwrap();
            assert_eq!(image::guess_format(&thumb).unwrap(), ImageFormat::Png);
        }
    }

    #[test]
    fn a_thumbnail_keeps_the_aspect_within_its_side() {
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(photo(1000, 500)).write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        let thumb = decode(&thumbnail(&bytes, ImageFormat::Png).unwrap(), ImageFormat::Png).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2));
    }

    /// The signature and header of a PNG declaring `w`×`h` RGB pixels, and no pixels.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        png
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever size a header declares, more than the limit on either side is refused
        /// as too large before decoding, and within it the missing pixels are what fails.
        #[test]
        fn a_declared_size_beyond_the_limit_is_refused_as_too_large(w in 1u32..200_000, h in 1u32..200_000) {
            let png = png_header(w, h);
            let too_large = w > MAX_SIDE || h > MAX_SIDE;
            let got = strip(&png, ImageFormat::Png);
            proptest::prop_assert_eq!(got == Err(ImageRefused::TooLarge), too_large, "{}x{}: {:?}", w, h, got);
            proptest::prop_assert!(got.is_err());
        }
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Whatever pixels a PNG has and whatever text and EXIF chunks it carries, in any
        /// order before its pixels, the stripped PNG has every pixel and none of the chunks.
        #[test]
        fn any_png_keeps_its_pixels_and_loses_every_metadata_chunk(
            w in 1u32..24,
            h in 1u32..24,
            seed in proptest::prelude::any::<u32>(),
            chunks in proptest::collection::vec((0usize..4, "[A-Za-z0-9 ]{0,40}"), 0..5),
        ) {
            let pixels = RgbImage::from_fn(w, h, |x, y| {
                let [a, b, c, _] = seed.wrapping_mul(x + 1).wrapping_add(y.wrapping_mul(2_654_435_761)).to_le_bytes();
                Rgb([a, b, c])
            });
            let mut plain = Vec::new();
            pixels.write_with_encoder(PngEncoder::new(&mut plain)).unwrap();
            let mut png = plain[..33].to_vec();
            for (i, (kind, text)) in chunks.iter().enumerate() {
                let marker = format!("M{i}-{text}-Qz7kx");
                png.extend(match kind {
                    0 => chunk(b"tEXt", format!("Comment\0{marker}").as_bytes()),
                    1 => chunk(b"iTXt", format!("XML:com.adobe.xmp\0\0\0\0\0{marker}").as_bytes()),
                    2 => {
                        let mut exif = exif_with_gps();
                        exif.extend_from_slice(marker.as_bytes());
                        chunk(b"eXIf", &exif)
                    }
                    _ => chunk(b"tIME", &[7, 234, 12, 5, 18, 0, 0]),
                });
            }
            png.extend_from_slice(&plain[33..]);
            let stripped = strip(&png, ImageFormat::Png).unwrap();
            for kind in [b"tEXt", b"iTXt", b"eXIf", b"tIME", b"zTXt", b"iCCP"] {
                proptest::prop_assert!(!stripped.windows(4).any(|w| w == kind), "{} kept", String::from_utf8_lossy(kind));
            }
            proptest::prop_assert!(!stripped.windows(6).any(|w| w == b"-Qz7kx"), "a marker kept");
            let back = decode(&stripped, ImageFormat::Png).unwrap().to_rgb8();
            proptest::prop_assert_eq!(back, pixels);
        }
    }

    #[test]
    fn a_png_declaring_100000_by_100000_pixels_is_refused_at_once() {
        let png = png_header(100_000, 100_000);
        let started = Instant::now();
        assert_eq!(strip(&png, ImageFormat::Png), Err(ImageRefused::TooLarge));
        assert_eq!(thumbnail(&png, ImageFormat::Png), Err(ImageRefused::TooLarge));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn what_is_not_an_image_of_its_type_is_refused() {
        assert!(matches!(strip(b"\x89PNG\r\n\x1a\nnot really", ImageFormat::Png), Err(ImageRefused::Undecodable(_))));
        assert!(format_of("application/pdf").is_none());
    }
}
