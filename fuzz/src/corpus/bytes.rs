//! Byte-level building blocks shared by the corpus generators: big- and
//! little-endian writers, CRC-32 and Adler-32, zlib streams (stored blocks
//! for arbitrary data, a hand-built dynamic-Huffman stream for zlib bombs),
//! GIF LZW for runs of one colour index, and the deterministic truncation
//! and bit-flip variants every valid base file gets.

use crate::Rng;

pub fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

pub fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

pub fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}

pub fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// The CRC-32 of PNG chunks, ZIP entries and the like (IEEE polynomial).
pub fn crc32(data: &[u8]) -> u32 {
    let table = crc_table();
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc ^ 0xffff_ffff
}

fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    table
}

/// Adler-32, the zlib trailer.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Adler-32 of `len` zero bytes, without the bytes: `a` stays 1 and `b`
/// grows by one per byte.
pub fn adler32_zeros(len: u64) -> u32 {
    let b = (len % 65521) as u32;
    (b << 16) | 1
}

/// `data` as a zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let n = chunk.len() as u16;
        out.extend_from_slice(&le16(n));
        out.extend_from_slice(&le16(!n));
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&be32(adler32(data)));
    out
}

/// Bits written least significant first, as deflate and GIF LZW pack them.
pub struct BitWriter {
    pub out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub fn new() -> BitWriter {
        BitWriter {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    /// The low `count` bits of `value`, lowest first.
    pub fn bits(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code of `len` bits, most significant bit first (deflate's
    /// order for codes).
    pub fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bits((code >> i) & 1, 1);
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A zlib stream that inflates to `len` zero bytes from about `len / 1000`
/// bytes: one dynamic-Huffman block whose literal/length code gives the
/// longest match (258 bytes at distance 1) a 1-bit code and the distance a
/// 1-bit code, so each 258 zeros cost two bits.
pub fn zlib_zeros(len: u64) -> Vec<u8> {
    let mut w = BitWriter::new();
    w.bits(1, 1); // BFINAL
    w.bits(2, 2); // dynamic Huffman
    w.bits(286 - 257, 5); // HLIT: literal/length codes 0..=285
    w.bits(2 - 1, 5); // HDIST: distance codes 0 and 1
    w.bits(18 - 4, 4); // HCLEN: code-length codes up to "1" in the order below
                       // Code lengths of the code-length alphabet, in deflate's order
                       // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1: symbol 18 gets 1 bit,
                       // symbols 1 and 2 get 2 bits.
    for len in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
        w.bits(len, 3);
    }
    // Canonical codes: 18 -> 0, 1 -> 10, 2 -> 11.
    let sym1 = |w: &mut BitWriter| w.code(0b10, 2);
    let sym2 = |w: &mut BitWriter| w.code(0b11, 2);
    let zeros = |w: &mut BitWriter, n: u32| {
        w.code(0, 1);
        w.bits(n - 11, 7);
    };
    // Literal 0: 2 bits; literals 1..=255: unused; 256 (end): 2 bits;
    // 257..=284: unused; 285 (length 258): 1 bit; distances 0 and 1: 1 bit.
    sym2(&mut w);
    zeros(&mut w, 138);
    zeros(&mut w, 117);
    sym2(&mut w);
    zeros(&mut w, 28);
    sym1(&mut w);
    sym1(&mut w);
    sym1(&mut w);
    // Canonical literal/length codes: 285 -> 0, 0 -> 10, 256 -> 11.
    if len > 0 {
        w.code(0b10, 2); // the first zero, as a literal
        let rest = len - 1;
        for _ in 0..rest / 258 {
            w.code(0, 1); // length 258
            w.code(0, 1); // distance 1
        }
        for _ in 0..rest % 258 {
            w.code(0b10, 2);
        }
    }
    w.code(0b11, 2); // end of block
    let mut out = vec![0x78, 0x01];
    out.extend(w.finish());
    out.extend_from_slice(&be32(adler32_zeros(len)));
    out
}

/// GIF LZW data (before sub-blocking) for `count` pixels of colour index
/// `index`, at `min_code_size` bits: a clear code, then codes for ever
/// longer runs (each new table entry is one pixel longer than the last),
/// a clear code whenever the table fills, and the end code. About 1400
/// pixels per byte once the runs are long.
pub fn lzw_run(min_code_size: u8, index: u8, count: u64) -> Vec<u8> {
    let m = u32::from(min_code_size.clamp(2, 8));
    let clear = 1u32 << m;
    let end = clear + 1;
    let mut w = BitWriter::new();
    let mut width = m + 1;
    let mut next = end + 1;
    // Longest run with a table entry: 1 (the literal) after a clear.
    let mut longest = 1u64;
    w.bits(clear, width);
    let mut left = count;
    while left > 0 {
        let run = longest.min(left);
        let code = if run == 1 {
            u32::from(index) & (clear - 1)
        } else {
            end + 1 + (run - 2) as u32
        };
        w.bits(code, width);
        left -= run;
        // The entry the decoder adds after this code.
        let added = next;
        if added >= (1 << width) && width < 12 {
            width += 1;
        }
        next += 1;
        if run == longest {
            longest += 1;
        }
        if next >= 4094 {
            w.bits(clear, width);
            width = m + 1;
            next = end + 1;
            longest = 1;
        }
    }
    w.bits(end, width);
    w.finish()
}

/// GIF data sub-blocks: `data` in blocks of at most 255 bytes, then the
/// zero-length terminator.
pub fn sub_blocks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 255 + 2);
    for chunk in data.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out.push(0);
    out
}

/// Deterministic bytes from `seed`.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Truncations of `bytes` at fixed fractions and a few small offsets, and
/// bit-flipped copies at offsets drawn from `seed`: `(suffix, bytes)`.
pub fn truncations_and_flips(bytes: &[u8], seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let len = bytes.len();
    let mut cuts: Vec<usize> = vec![
        1,
        4,
        9,
        17,
        33,
        len / 8,
        len / 4,
        len / 2,
        len * 3 / 4,
        len.saturating_sub(1),
    ];
    cuts.retain(|&c| c > 0 && c < len);
    cuts.sort_unstable();
    cuts.dedup();
    for c in cuts {
        out.push((format!("trunc-{c}"), bytes[..c].to_vec()));
    }
    let mut rng = Rng::new(seed);
    // One flip in the first 64 bytes (headers), two anywhere, then copies
    // with 8 and 64 flips.
    for (k, flips, window) in [
        (0, 1, 64),
        (1, 1, len),
        (2, 1, len),
        (3, 8, len),
        (4, 64, len),
    ] {
        let mut v = bytes.to_vec();
        for _ in 0..flips {
            let i = rng.below(window.min(len));
            v[i] ^= 1 << rng.below(8);
        }
        out.push((format!("flip-{k}"), v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32_zeros(1000), adler32(&[0u8; 1000]));
    }

    #[test]
    fn lzw_run_has_the_expected_ratio() {
        let n = 1_000_000;
        let data = lzw_run(8, 3, n);
        assert!(data.len() < 4000, "{}", data.len());
    }
}
