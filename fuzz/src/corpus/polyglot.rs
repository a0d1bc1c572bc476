//! Polyglots and impostors: files that are two formats at once (PNG with a
//! ZIP archive appended, a GIF that is also JavaScript, a JPEG carrying
//! HTML, a GIF with a JAR appended) and files whose magic bytes say one
//! format while the body is another. Each is filed under the format its
//! first bytes claim.

use super::bytes::{crc32, le16, le32};
use super::{encode, gradient, Out};

/// A one-entry stored ZIP archive that starts at `base` in the file.
fn zip(base: u32, name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let mut local = Vec::new();
    local.extend(le32(0x0403_4b50));
    local.extend(le16(20));
    local.extend(le16(0));
    local.extend(le16(0));
    local.extend(le32(0));
    local.extend(le32(crc));
    local.extend(le32(data.len() as u32));
    local.extend(le32(data.len() as u32));
    local.extend(le16(name.len() as u16));
    local.extend(le16(0));
    local.extend(name.as_bytes());
    local.extend_from_slice(data);
    let mut central = Vec::new();
    central.extend(le32(0x0201_4b50));
    central.extend(le16(20));
    central.extend(le16(20));
    central.extend(le16(0));
    central.extend(le16(0));
    central.extend(le32(0));
    central.extend(le32(crc));
    central.extend(le32(data.len() as u32));
    central.extend(le32(data.len() as u32));
    central.extend(le16(name.len() as u16));
    central.extend([0; 12]);
    central.extend(le32(base));
    central.extend(name.as_bytes());
    let mut end = Vec::new();
    end.extend(le32(0x0605_4b50));
    end.extend([0; 4]);
    end.extend(le16(1));
    end.extend(le16(1));
    end.extend(le32(central.len() as u32));
    end.extend(le32(base + local.len() as u32));
    end.extend(le16(0));
    [local, central, end].concat()
}

const HTML: &[u8] = b"<html><body><script>console.log('polyglot test file')</script></body></html>";

pub fn generate(
    png: &mut Out,
    jpeg: &mut Out,
    gif: &mut Out,
    webp: &mut Out,
    bmp: &mut Out,
    tiff: &mut Out,
    video: &mut Out,
) {
    let img = gradient(32, 24);
    let png_bytes = encode(&img, image::ImageFormat::Png);
    let jpeg_bytes = encode(&img, image::ImageFormat::Jpeg);
    let gif_bytes = encode(&img, image::ImageFormat::Gif);
    let bmp_bytes = encode(&img, image::ImageFormat::Bmp);
    let tiff_bytes = encode(&img, image::ImageFormat::Tiff);
    let webp_bytes = encode(&img, image::ImageFormat::WebP);

    png.add(
        "polyglot-zip-appended",
        [
            png_bytes.clone(),
            zip(
                png_bytes.len() as u32,
                "readme.txt",
                b"synthetic archive entry",
            ),
        ]
        .concat(),
    );
    png.add(
        "polyglot-html-appended",
        [png_bytes.as_slice(), HTML].concat(),
    );
    png.add(
        "magic-png-body-jpeg",
        [&png_bytes[..8], &jpeg_bytes[..]].concat(),
    );
    png.add(
        "magic-png-body-gif",
        [&png_bytes[..8], &gif_bytes[..]].concat(),
    );

    // GIF89a whose screen width bytes are "/*": the file is also a script.
    {
        let packed = gif_bytes[10];
        let gct = if packed & 0x80 != 0 {
            3 << ((packed & 7) + 1)
        } else {
            0
        };
        let mut f = b"GIF89a/*\x0a\x00".to_vec();
        f.extend_from_slice(&gif_bytes[10..13 + gct]);
        f.extend([0x21, 0xfe]);
        let script = b"*/=1;console.log('polyglot test file');/*";
        f.push(script.len() as u8);
        f.extend_from_slice(script);
        f.push(0);
        f.extend_from_slice(&gif_bytes[13 + gct..gif_bytes.len() - 1]);
        f.extend(b";*/");
        gif.add("polyglot-javascript", f);
    }
    gif.add(
        "polyglot-jar-appended",
        [
            gif_bytes.clone(),
            zip(
                gif_bytes.len() as u32,
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\n",
            ),
        ]
        .concat(),
    );
    gif.add(
        "magic-gif-body-bmp",
        [b"GIF89a".as_slice(), &bmp_bytes].concat(),
    );

    {
        let mut f = jpeg_bytes[..2].to_vec();
        f.extend([0xff, 0xfe]);
        f.extend(((HTML.len() + 2) as u16).to_be_bytes());
        f.extend_from_slice(HTML);
        f.extend_from_slice(&jpeg_bytes[2..]);
        f.extend_from_slice(HTML);
        jpeg.add("polyglot-html", f);
    }
    jpeg.add(
        "magic-jpeg-body-png",
        [&[0xff, 0xd8, 0xff, 0xe0][..], &png_bytes].concat(),
    );
    jpeg.add(
        "pdf-header-then-jpeg",
        [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".as_slice(), &jpeg_bytes].concat(),
    );
    jpeg.add(
        "polyglot-pdf-appended",
        [
            jpeg_bytes.as_slice(),
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        ]
        .concat(),
    );
    {
        // A whole PNG inside an APP1 segment.
        let mut f = jpeg_bytes[..2].to_vec();
        f.extend([0xff, 0xe1]);
        f.extend(((png_bytes.len() + 2) as u16).to_be_bytes());
        f.extend_from_slice(&png_bytes);
        f.extend_from_slice(&jpeg_bytes[2..]);
        jpeg.add("png-inside-app1", f);
    }

    webp.add(
        "magic-webp-body-png",
        [
            b"RIFF".as_slice(),
            &le32(png_bytes.len() as u32 + 12),
            b"WEBPVP8L",
            &le32(png_bytes.len() as u32),
            &png_bytes,
        ]
        .concat(),
    );
    webp.add(
        "polyglot-zip-appended",
        [
            webp_bytes.clone(),
            zip(webp_bytes.len() as u32, "a.txt", b"entry"),
        ]
        .concat(),
    );
    bmp.add(
        "magic-bmp-body-tiff",
        [b"BM".as_slice(), &tiff_bytes].concat(),
    );
    bmp.add(
        "polyglot-zip-appended",
        [
            bmp_bytes.clone(),
            zip(bmp_bytes.len() as u32, "a.txt", b"entry"),
        ]
        .concat(),
    );
    tiff.add(
        "magic-tiff-body-webp",
        [b"II*\0".as_slice(), &webp_bytes].concat(),
    );
    tiff.add(
        "polyglot-html-appended",
        [tiff_bytes.as_slice(), HTML].concat(),
    );
    video.add(
        "magic-ftyp-body-png",
        [
            20u32.to_be_bytes().as_slice(),
            b"ftypisom\0\0\x02\0isom",
            &png_bytes,
        ]
        .concat(),
    );
    video.add(
        "magic-ebml-body-jpeg",
        [&[0x1a, 0x45, 0xdf, 0xa3][..], &jpeg_bytes].concat(),
    );
}
