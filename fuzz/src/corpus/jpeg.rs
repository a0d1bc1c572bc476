//! Hostile JPEG files. A small hand-written encoder makes flat images
//! (every block the same DC value, no AC energy) at any size, with any
//! number of components, restart intervals and progressive scan scripts,
//! so that header fields, tables, scans and markers can be set to anything:
//! segment lengths that lie, SOF sizes of 0 and 65535, 36-megapixel images
//! in a few hundred KB, progressive files with thousands of scans, missing
//! and duplicate Huffman and quantisation tables, restart-marker abuse,
//! EXIF APP1 blocks with bad orientations, entry counts and IFD loops, and
//! huge or inconsistent ICC profiles.

use super::bytes::{be16, be32, noise};
use super::{encode, gradient, ifd, Out};

/// A marker segment: `FF marker`, the length (data + 2), the data.
pub fn seg(marker: u8, data: &[u8]) -> Vec<u8> {
    seg_len(marker, (data.len() + 2) as u16, data)
}

/// A marker segment whose length field says `len`.
pub fn seg_len(marker: u8, len: u16, data: &[u8]) -> Vec<u8> {
    [&[0xff, marker], be16(len).as_slice(), data].concat()
}

const SOI: [u8; 2] = [0xff, 0xd8];
const EOI: [u8; 2] = [0xff, 0xd9];

/// The value every block's DC coefficient has.
const DC: i32 = 40;

fn dqt() -> Vec<u8> {
    let mut d = vec![0u8];
    d.extend([8u8; 64]);
    seg(0xdb, &d)
}

/// DC table 0: `00` -> category 0, `01` -> category 5, `10` -> category
/// 6. AC table 0: `00` -> EOB (run of one block), `01` -> EOB run class 14.
fn dht() -> Vec<u8> {
    let mut d = vec![0x00, 0, 3];
    d.extend([0u8; 14]);
    d.extend([0, 5, 6]);
    d.extend([0x10, 0, 2]);
    d.extend([0u8; 14]);
    d.extend([0x00, 0xe0]);
    seg(0xc4, &d)
}

fn sof(marker: u8, w: u16, h: u16, ncomp: u8) -> Vec<u8> {
    let mut d = vec![8];
    d.extend(be16(h));
    d.extend(be16(w));
    d.push(ncomp);
    for c in 0..ncomp {
        d.extend([c + 1, 0x11, 0]);
    }
    seg(marker, &d)
}

/// SOS for components `comps` (ids from 1), tables 0/0.
fn sos(comps: &[u8], ss: u8, se: u8, ah_al: u8) -> Vec<u8> {
    let mut d = vec![comps.len() as u8];
    for c in comps {
        d.extend([*c, 0x00]);
    }
    d.extend([ss, se, ah_al]);
    seg(0xda, &d)
}

/// Entropy-coded bits, most significant first, with 0xFF stuffing.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn new() -> Bits {
        Bits {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let b = self.acc as u8;
                self.out.push(b);
                if b == 0xff {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Pad to a byte boundary with 1 bits.
    fn align(&mut self) {
        while self.n != 0 {
            self.put(1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.align();
        self.out
    }

    /// A DC difference of 0 or of magnitude 16..=63 (categories 5 and 6).
    fn dc_diff(&mut self, diff: i32) {
        let cat = 32 - diff.unsigned_abs().leading_zeros();
        match cat {
            0 => self.put(0b00, 2),
            5 => self.put(0b01, 2),
            6 => self.put(0b10, 2),
            _ => unreachable!("DC difference {diff} has no code"),
        }
        if cat > 0 {
            let extra = if diff > 0 {
                diff
            } else {
                diff + (1 << cat) - 1
            };
            self.put(extra as u32, cat);
        }
    }

    fn eob(&mut self) {
        self.put(0b00, 2);
    }

    /// End-of-band runs covering `blocks` blocks.
    fn eob_runs(&mut self, mut blocks: u64) {
        while blocks >= 16384 {
            let run = blocks.min(32767);
            self.put(0b01, 2);
            self.put((run - 16384) as u32, 14);
            blocks -= run;
        }
        for _ in 0..blocks {
            self.eob();
        }
    }
}

fn blocks(w: u16, h: u16) -> u64 {
    u64::from(w.div_ceil(8)) * u64::from(h.div_ceil(8))
}

/// A flat baseline scan of `ncomp` interleaved 1x1-sampled components,
/// with a restart marker every `restart` MCUs (0: none); `rst` gives the
/// marker number for the n-th restart (normally `n % 8`).
fn baseline_scan(w: u16, h: u16, ncomp: u8, restart: u32, rst: impl Fn(u64) -> u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bits = Bits::new();
    let mut pred = vec![0i32; usize::from(ncomp)];
    let mcus = blocks(w, h);
    let mut restarts = 0;
    for m in 0..mcus {
        if restart > 0 && m > 0 && m % u64::from(restart) == 0 {
            out.extend(std::mem::replace(&mut bits, Bits::new()).finish());
            out.extend([0xff, 0xd0 + (rst(restarts) & 7)]);
            restarts += 1;
            pred.iter_mut().for_each(|p| *p = 0);
        }
        for p in pred.iter_mut() {
            bits.dc_diff(DC - *p);
            *p = DC;
            bits.eob();
        }
    }
    out.extend(bits.finish());
    out
}

/// A complete flat baseline JPEG (SOF `sof_marker`), with `app` segments
/// after SOI.
fn baseline(sof_marker: u8, w: u16, h: u16, ncomp: u8, app: &[Vec<u8>]) -> Vec<u8> {
    let comps: Vec<u8> = (1..=ncomp).collect();
    [
        SOI.to_vec(),
        app.concat(),
        dqt(),
        sof(sof_marker, w, h, ncomp),
        dht(),
        sos(&comps, 0, 63, 0),
        baseline_scan(w, h, ncomp, 0, |n| n as u8),
        EOI.to_vec(),
    ]
    .concat()
}

/// A progressive scan: `(components, ss, se, ah, al)`.
type Scan = (Vec<u8>, u8, u8, u8, u8);

/// The entropy data of one progressive scan of a flat image.
fn progressive_scan_data(w: u16, h: u16, scan: &Scan) -> Vec<u8> {
    let (comps, ss, _, ah, al) = scan;
    let n = blocks(w, h);
    let mut bits = Bits::new();
    if *ss == 0 {
        let mut pred = vec![0i32; comps.len()];
        for _ in 0..n {
            for p in pred.iter_mut() {
                if *ah == 0 {
                    let v = DC >> al;
                    bits.dc_diff(v - *p);
                    *p = v;
                } else {
                    bits.put(((DC >> al) & 1) as u32, 1);
                }
            }
        }
    } else {
        bits.eob_runs(n);
    }
    bits.finish()
}

fn progressive(w: u16, h: u16, ncomp: u8, scans: &[Scan]) -> Vec<u8> {
    let mut out = [SOI.to_vec(), dqt(), sof(0xc2, w, h, ncomp), dht()].concat();
    for s in scans {
        out.extend(sos(&s.0, s.1, s.2, (s.3 << 4) | s.4));
        out.extend(progressive_scan_data(w, h, s));
    }
    out.extend(EOI);
    out
}

/// A valid script: DC in two passes (Al 1, then refinement), the AC
/// coefficients of each component in bands of `band` at Al 1, then every
/// band refined. Bands of 4 on 3 components make 98 scans (zune-jpeg
/// refuses more than 100); bands of 1 on one component make 128.
fn many_scans(comps: u8, band: u8) -> Vec<Scan> {
    let all: Vec<u8> = (1..=comps).collect();
    let mut s: Vec<Scan> = vec![(all.clone(), 0, 0, 0, 1), (all, 0, 0, 1, 0)];
    for c in 1..=comps {
        for ah_al in [(0, 1), (1, 0)] {
            for k in (1..=63).step_by(usize::from(band)) {
                s.push((vec![c], k, (k + band - 1).min(63), ah_al.0, ah_al.1));
            }
        }
    }
    s
}

/// The segments of a JPEG up to and including SOS, and the rest.
fn parse(jpeg: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    let mut segs = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xff {
        let m = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        let end = (at + 2 + len).min(jpeg.len());
        segs.push((m, jpeg[at + 4..end].to_vec()));
        at = end;
        if m == 0xda {
            break;
        }
    }
    (segs, jpeg[at..].to_vec())
}

fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    seg(0xe1, &[b"Exif\0\0".as_slice(), tiff].concat())
}

fn icc_app2(seq: u8, count: u8, data: &[u8]) -> Vec<u8> {
    seg(
        0xe2,
        &[b"ICC_PROFILE\0".as_slice(), &[seq, count], data].concat(),
    )
}

pub fn generate(out: &mut Out) {
    let colour = encode(&gradient(64, 48), image::ImageFormat::Jpeg);
    out.add("base-colour", colour.clone());
    out.derived("base-colour", &colour, 0x1e9);
    let grey = baseline(0xc0, 40, 24, 1, &[]);
    out.add("base-grey", grey);
    let prog = progressive(48, 32, 3, &many_scans(3, 4));
    out.add("progressive-many-scans", prog.clone());
    out.derived("progressive-many-scans", &prog, 0x9e0);

    segment_length_cases(out, &colour);
    sof_cases(out);
    table_cases(out);
    scan_cases(out);
    restart_cases(out);
    exif_and_icc_cases(out);
    marker_cases(out);
}

fn segment_length_cases(out: &mut Out, colour: &[u8]) {
    let (segs, rest) = parse(colour);
    let mut seen = std::collections::HashMap::new();
    for (i, (m, data)) in segs.iter().enumerate() {
        let k = seen.entry(*m).or_insert(0);
        *k += 1;
        let name = format!("seg-{m:02x}-{k}");
        for (what, len) in [
            ("len-0", 0u16),
            ("len-2", 2),
            ("len-plus-one", (data.len() + 3) as u16),
            ("len-ffff", 0xffff),
        ] {
            let mut file = SOI.to_vec();
            for (j, (m2, d2)) in segs.iter().enumerate() {
                if j == i {
                    file.extend(seg_len(*m2, len, d2));
                } else {
                    file.extend(seg(*m2, d2));
                }
            }
            file.extend_from_slice(&rest);
            out.add(&format!("{name}-{what}"), file);
        }
    }
}

fn sof_cases(out: &mut Out) {
    for (name, w, h) in [
        ("sof-0x0", 0u16, 0u16),
        ("sof-height-0", 16, 0),
        ("sof-65535x65535", 65535, 65535),
        ("sof-1x65535", 1, 65535),
        ("sof-65535x1", 65535, 1),
    ] {
        // The data is for a 16x16 image whatever the header says, except
        // for the thin strips, which are encoded in full (8192 blocks).
        let data_w = if w == 65535 && h == 1 { w } else { 16 };
        let data_h = if w == 1 && h == 65535 { h } else { 16 };
        let file = [
            SOI.to_vec(),
            dqt(),
            sof(0xc0, w, h, 1),
            dht(),
            sos(&[1], 0, 63, 0),
            baseline_scan(data_w, data_h, 1, 0, |n| n as u8),
            EOI.to_vec(),
        ]
        .concat();
        out.add(name, file);
    }
    // 6000x6000 grey in about 200 KB: inside the default 40 MP budget.
    out.add("bomb-6000x6000-grey", baseline(0xc0, 6000, 6000, 1, &[]));
    // 3-component and 4-component (CMYK, with an Adobe marker) flat images.
    out.add("ycbcr-flat-3comp", baseline(0xc0, 32, 32, 3, &[]));
    for transform in [0u8, 1, 2, 9] {
        let adobe = seg(
            0xee,
            &[b"Adobe".as_slice(), &[0, 100, 0, 0, 0, 0, transform]].concat(),
        );
        out.add(
            &format!("cmyk-adobe-transform-{transform}"),
            baseline(0xc0, 32, 16, 4, &[adobe]),
        );
    }
    for (name, marker) in [
        ("sof1-extended", 0xc1u8),
        ("sof3-lossless", 0xc3),
        ("sof5-hierarchical", 0xc5),
        ("sof9-arithmetic", 0xc9),
        ("sof15", 0xcf),
    ] {
        out.add(name, baseline(marker, 16, 16, 1, &[]));
    }
    // Component counts and fields that are wrong in themselves.
    let body = |sof_data: Vec<u8>| {
        [
            SOI.to_vec(),
            dqt(),
            seg(0xc0, &sof_data),
            dht(),
            sos(&[1], 0, 63, 0),
            baseline_scan(16, 16, 1, 0, |n| n as u8),
            EOI.to_vec(),
        ]
        .concat()
    };
    let sof_data = |precision: u8, ncomp: u8, comps: &[[u8; 3]]| {
        let mut d = vec![precision];
        d.extend(be16(16));
        d.extend(be16(16));
        d.push(ncomp);
        for c in comps {
            d.extend(c);
        }
        d
    };
    out.add("sof-ncomp-0", body(sof_data(8, 0, &[])));
    out.add(
        "sof-ncomp-255-short",
        body(sof_data(8, 255, &[[1, 0x11, 0]])),
    );
    out.add(
        "sof-ncomp-2",
        body(sof_data(8, 2, &[[1, 0x11, 0], [2, 0x11, 0]])),
    );
    out.add("sof-sampling-0", body(sof_data(8, 1, &[[1, 0x00, 0]])));
    out.add("sof-sampling-5x5", body(sof_data(8, 1, &[[1, 0x55, 0]])));
    out.add(
        "sof-sampling-mixed",
        body(sof_data(8, 3, &[[1, 0x44, 0], [2, 0x11, 0], [3, 0x13, 0]])),
    );
    out.add("sof-quant-table-3", body(sof_data(8, 1, &[[1, 0x11, 3]])));
    out.add("sof-precision-12", body(sof_data(12, 1, &[[1, 0x11, 0]])));
    out.add("sof-precision-16", body(sof_data(16, 1, &[[1, 0x11, 0]])));
    out.add(
        "sof-duplicate-component-ids",
        body(sof_data(8, 3, &[[1, 0x11, 0], [1, 0x11, 0], [1, 0x11, 0]])),
    );
    out.add(
        "sof-twice",
        [
            SOI.to_vec(),
            dqt(),
            sof(0xc0, 16, 16, 1),
            sof(0xc0, 60000, 60000, 3),
            dht(),
            sos(&[1], 0, 63, 0),
            baseline_scan(16, 16, 1, 0, |n| n as u8),
            EOI.to_vec(),
        ]
        .concat(),
    );
}

fn table_cases(out: &mut Out) {
    let scan = baseline_scan(16, 16, 1, 0, |n| n as u8);
    let file = |tables: Vec<Vec<u8>>| {
        [
            SOI.to_vec(),
            tables.concat(),
            sof(0xc0, 16, 16, 1),
            sos(&[1], 0, 63, 0),
            scan.clone(),
            EOI.to_vec(),
        ]
        .concat()
    };
    out.add("dht-missing", file(vec![dqt()]));
    out.add("dqt-missing", file(vec![dht()]));
    out.add("tables-missing", file(vec![]));
    out.add(
        "tables-duplicated",
        file(vec![dqt(), dht(), dqt(), dht(), dht()]),
    );
    // Code counts that oversubscribe the code space, and that sum past 256.
    let mut over = vec![0x00, 3];
    over.extend([0u8; 15]);
    over.extend([0, 1, 2]);
    out.add(
        "dht-oversubscribed",
        file(vec![dqt(), seg(0xc4, &over), dht()]),
    );
    let mut many = vec![0x10];
    many.extend([0, 0, 0, 0, 0, 0, 0, 200, 200, 200, 0, 0, 0, 0, 0, 0]);
    many.extend(noise(0xd47, 40));
    out.add("dht-count-600", file(vec![dqt(), seg(0xc4, &many), dht()]));
    let mut bad_class = dht();
    bad_class[4] = 0x25;
    out.add("dht-class-2-id-5", file(vec![dqt(), bad_class]));
    let mut dqt_id7 = dqt();
    dqt_id7[4] = 0x07;
    out.add("dqt-id-7", file(vec![dqt_id7, dht()]));
    let mut dqt16 = vec![0x10];
    dqt16.extend([0u8; 64]);
    out.add("dqt-16bit-short", file(vec![seg(0xdb, &dqt16), dht()]));
    let mut zeros = vec![0x00];
    zeros.extend([0u8; 64]);
    out.add("dqt-all-zero", file(vec![seg(0xdb, &zeros), dht()]));
    // A Huffman table that is all ones-codes: 16 codes of length 16.
    let mut ones = vec![0x00];
    ones.extend([0u8; 15]);
    ones.push(16);
    ones.extend(0..16u8);
    out.add(
        "dht-long-codes-only",
        file(vec![dqt(), seg(0xc4, &ones), dht()]),
    );
}

fn scan_cases(out: &mut Out) {
    let head = [SOI.to_vec(), dqt(), sof(0xc0, 16, 16, 1), dht()].concat();
    let data = baseline_scan(16, 16, 1, 0, |n| n as u8);
    let with_sos = |sos_data: &[u8]| {
        [
            head.clone(),
            seg(0xda, sos_data),
            data.clone(),
            EOI.to_vec(),
        ]
        .concat()
    };
    out.add("sos-ncomp-0", with_sos(&[0, 0, 63, 0]));
    out.add(
        "sos-ncomp-4",
        with_sos(&[4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0]),
    );
    out.add("sos-unknown-component", with_sos(&[1, 9, 0, 0, 63, 0]));
    out.add("sos-table-3", with_sos(&[1, 1, 0x33, 0, 63, 0]));
    out.add("sos-se-200", with_sos(&[1, 1, 0, 0, 200, 0]));
    out.add("sos-baseline-ah-al", with_sos(&[1, 1, 0, 0, 63, 0xff]));
    out.add(
        "sos-missing",
        [head.clone(), data.clone(), EOI.to_vec()].concat(),
    );
    out.add("sos-no-data", [head.clone(), sos(&[1], 0, 63, 0)].concat());
    out.add(
        "scan-noise",
        [head, sos(&[1], 0, 63, 0), noise(0x5ca, 2000), EOI.to_vec()].concat(),
    );

    // Progressive abuse.
    let band = |k: u8| (vec![1u8], k, 63u8, 0u8, 0u8);
    let dc = (vec![1u8], 0u8, 0u8, 0u8, 0u8);
    out.add(
        "progressive-128-scans",
        progressive(16, 16, 1, &many_scans(1, 1)),
    );
    let mut thousands = vec![dc.clone()];
    thousands.extend((0..2000).map(|_| band(1)));
    out.add(
        "progressive-2000-scans-1024px",
        progressive(1024, 1024, 1, &thousands),
    );
    out.add(
        "progressive-se-before-ss",
        progressive(16, 16, 1, &[dc.clone(), (vec![1], 40, 3, 0, 0)]),
    );
    out.add(
        "progressive-refine-first",
        progressive(16, 16, 1, &[(vec![1], 0, 0, 1, 0), (vec![1], 1, 63, 1, 0)]),
    );
    out.add(
        "progressive-ac-interleaved",
        progressive(
            16,
            16,
            3,
            &[(vec![1, 2, 3], 0, 0, 0, 0), (vec![1, 2, 3], 1, 63, 0, 0)],
        ),
    );
    out.add(
        "progressive-al-15",
        progressive(
            16,
            16,
            1,
            &[(vec![1], 0, 0, 0, 15), (vec![1], 1, 63, 0, 15)],
        ),
    );
    out.add(
        "progressive-no-ac",
        progressive(16, 16, 1, std::slice::from_ref(&dc)),
    );
    out.add("progressive-no-scans", progressive(16, 16, 1, &[]));
    // A DHT between scans that redefines the tables, and scans after EOI.
    let mut redefine = progressive(16, 16, 1, std::slice::from_ref(&dc));
    redefine.truncate(redefine.len() - 2);
    let mut other = vec![0x10, 1];
    other.extend([0u8; 15]);
    other.push(0xf0);
    redefine.extend(seg(0xc4, &other));
    redefine.extend(sos(&[1], 1, 63, 0));
    redefine.extend(noise(0x7ed, 64));
    redefine.extend(EOI);
    out.add("progressive-dht-redefined", redefine);
}

fn restart_cases(out: &mut Out) {
    let file = |dri: Option<Vec<u8>>, scan: Vec<u8>| {
        [
            SOI.to_vec(),
            dqt(),
            sof(0xc0, 64, 64, 1),
            dht(),
            dri.unwrap_or_default(),
            sos(&[1], 0, 63, 0),
            scan,
            EOI.to_vec(),
        ]
        .concat()
    };
    let dri = |n: u16| Some(seg(0xdd, &be16(n)));
    let normal = |n: u64| (n % 8) as u8;
    out.add(
        "restart-every-mcu",
        file(dri(1), baseline_scan(64, 64, 1, 1, normal)),
    );
    out.add(
        "restart-all-rst0",
        file(dri(1), baseline_scan(64, 64, 1, 1, |_| 0)),
    );
    out.add(
        "restart-backwards",
        file(dri(2), baseline_scan(64, 64, 1, 2, |n| 7 - (n % 8) as u8)),
    );
    out.add(
        "restart-markers-without-dri",
        file(None, baseline_scan(64, 64, 1, 3, normal)),
    );
    out.add(
        "restart-dri-without-markers",
        file(dri(1), baseline_scan(64, 64, 1, 0, normal)),
    );
    out.add(
        "restart-interval-65535",
        file(dri(65535), baseline_scan(64, 64, 1, 0, normal)),
    );
    out.add(
        "restart-interval-0",
        file(dri(0), baseline_scan(64, 64, 1, 5, normal)),
    );
    out.add(
        "restart-dri-length-5",
        file(
            Some(seg_len(0xdd, 5, &[0, 1, 0])),
            baseline_scan(64, 64, 1, 1, normal),
        ),
    );
    // 40,000 restart intervals of one MCU each in a 1600x1600 image.
    out.add(
        "restart-40000-intervals",
        [
            SOI.to_vec(),
            dqt(),
            sof(0xc0, 1600, 1600, 1),
            dht(),
            seg(0xdd, &be16(1)),
            sos(&[1], 0, 63, 0),
            baseline_scan(1600, 1600, 1, 1, normal),
            EOI.to_vec(),
        ]
        .concat(),
    );
}

fn exif_and_icc_cases(out: &mut Out) {
    for (name, tiff) in ifd::hostile_exif() {
        out.add(
            &format!("exif-{name}"),
            baseline(0xc0, 16, 16, 1, &[exif_app1(&tiff)]),
        );
    }
    let orientation6 = ifd::exif_tiff(&[(0x0112, ifd::Val::Short(vec![6]))]);
    out.add(
        "exif-twice-different",
        baseline(
            0xc0,
            24,
            8,
            1,
            &[
                exif_app1(&orientation6),
                exif_app1(&ifd::exif_tiff(&[(0x0112, ifd::Val::Short(vec![3]))])),
            ],
        ),
    );
    out.add(
        "exif-no-prefix",
        baseline(0xc0, 16, 16, 1, &[seg(0xe1, &orientation6)]),
    );
    out.add(
        "exif-app1-length-past-end",
        [
            SOI.to_vec(),
            seg_len(
                0xe1,
                0xffff,
                &[b"Exif\0\0".as_slice(), &orientation6].concat(),
            ),
        ]
        .concat(),
    );
    // An ICC profile in 24 chunks of 64 KB (1.5 MB), one claiming to be
    // chunk 1 of 255, duplicate and zero sequence numbers, and a profile
    // header claiming 4 GB.
    let mut big = Vec::new();
    for i in 0..24u8 {
        big.push(icc_app2(i + 1, 24, &noise(u64::from(i) + 0x1cc, 65000)));
    }
    out.add("icc-1.5mb-24-chunks", baseline(0xc0, 16, 16, 1, &big));
    let mut header = vec![0u8; 128];
    header[..4].copy_from_slice(&be32(0xffff_fff0));
    header[36..40].copy_from_slice(b"acsp");
    out.add(
        "icc-chunk-1-of-255",
        baseline(0xc0, 16, 16, 1, &[icc_app2(1, 255, &header)]),
    );
    out.add(
        "icc-duplicate-and-zero-seq",
        baseline(
            0xc0,
            16,
            16,
            1,
            &[
                icc_app2(1, 2, &header),
                icc_app2(1, 2, &header),
                icc_app2(0, 0, &header),
                icc_app2(3, 2, &header),
            ],
        ),
    );
}

fn marker_cases(out: &mut Out) {
    let grey = baseline(0xc0, 16, 16, 1, &[]);
    out.add("soi-only", SOI.to_vec());
    out.add("soi-ff", vec![0xff, 0xd8, 0xff]);
    out.add("eoi-missing", grey[..grey.len() - 2].to_vec());
    out.add("soi-twice", [SOI.as_slice(), &grey].concat());
    // 20,000 comment segments, and 200,000 fill bytes before SOF.
    let mut coms = SOI.to_vec();
    for i in 0..20_000u32 {
        coms.extend(seg(0xfe, &be32(i)));
    }
    coms.extend_from_slice(&grey[2..]);
    out.add("com-20000", coms);
    let mut fill = SOI.to_vec();
    fill.extend(vec![0xff; 200_000]);
    fill.extend_from_slice(&grey[2..]);
    out.add("fill-bytes-200000", fill);
    // Unknown and reserved markers, a JPG extension marker, a stray RST.
    let mut odd = SOI.to_vec();
    odd.extend(seg(0xef, &noise(0xef, 60000)));
    odd.extend(seg(0xc8, &[1, 2, 3]));
    odd.extend(seg(0x02, &[4, 5, 6]));
    odd.extend([0xff, 0xd3]);
    odd.extend_from_slice(&grey[2..]);
    out.add("markers-reserved-and-stray", odd);
    // A JPEG whose header segments say nothing more than "FF" and NULs.
    out.add(
        "marker-ff00-in-header",
        [SOI.as_slice(), &[0xff, 0x00, 0xff, 0x00], &grey[2..]].concat(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_jpegs_decode() {
        for (name, file) in [
            ("baseline", baseline(0xc0, 40, 24, 1, &[])),
            ("colour", baseline(0xc0, 32, 32, 3, &[])),
            ("progressive", progressive(48, 32, 3, &many_scans(3, 4))),
            (
                "progressive-eobrun",
                progressive(
                    1024,
                    1024,
                    1,
                    &[(vec![1], 0, 0, 0, 0), (vec![1], 1, 63, 0, 0)],
                ),
            ),
            (
                "restart",
                [
                    SOI.to_vec(),
                    dqt(),
                    sof(0xc0, 64, 64, 1),
                    dht(),
                    seg(0xdd, &be16(1)),
                    sos(&[1], 0, 63, 0),
                    baseline_scan(64, 64, 1, 1, |n| (n % 8) as u8),
                    EOI.to_vec(),
                ]
                .concat(),
            ),
        ] {
            let img = image::load_from_memory(&file)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .to_luma8();
            let v = img.as_raw()[0];
            assert!(img.as_raw().iter().all(|&p| p == v), "{name} is not flat");
            // DC 40 at quantiser 8: Y = 128 + 40 * 8 / 8 = 168 (the colour
            // files' chroma moves their luma a little).
            assert!((140..=190).contains(&v), "{name}: {v}");
        }
    }
}
