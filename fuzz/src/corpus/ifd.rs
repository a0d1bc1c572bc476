//! TIFF structure, written by hand so that every field can lie: a header,
//! data blobs at known offsets, and image file directories whose entries
//! are whatever the caller says. Used for TIFF files and for EXIF blocks
//! (JPEG APP1, PNG eXIf, WebP EXIF), which are TIFF structures too.

/// One IFD entry's value, written in the file's byte order. `Raw` states
/// type and count itself, so they may disagree with the bytes.
#[derive(Debug, Clone)]
pub enum Val {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Ascii(Vec<u8>),
    Raw {
        typ: u16,
        count: u32,
        bytes: Vec<u8>,
    },
    /// A value that is an offset the caller computed (type LONG, count 1),
    /// or that points wherever the caller likes with a stated type and count.
    Pointer {
        typ: u16,
        count: u32,
        offset: u32,
    },
}

/// An entry: tag and value.
pub type Entry = (u16, Val);

/// A classic TIFF (or BigTIFF) being built.
pub struct Tiff {
    pub le: bool,
    pub big: bool,
    pub buf: Vec<u8>,
}

impl Tiff {
    /// A little-endian (`le`) or big-endian classic TIFF header whose
    /// first IFD offset is filled in by [`Tiff::set_first_ifd`].
    pub fn new(le: bool) -> Tiff {
        let mut buf = Vec::new();
        buf.extend_from_slice(if le { b"II" } else { b"MM" });
        let mut t = Tiff {
            le,
            big: false,
            buf: Vec::new(),
        };
        buf.extend_from_slice(&t.u16b(42));
        buf.extend_from_slice(&t.u32b(0));
        t.buf = buf;
        t
    }

    /// A BigTIFF header (version 43, 8-byte offsets).
    pub fn new_big(le: bool) -> Tiff {
        let mut t = Tiff {
            le,
            big: true,
            buf: Vec::new(),
        };
        let mut buf = Vec::new();
        buf.extend_from_slice(if le { b"II" } else { b"MM" });
        buf.extend_from_slice(&t.u16b(43));
        buf.extend_from_slice(&t.u16b(8));
        buf.extend_from_slice(&t.u16b(0));
        buf.extend_from_slice(&t.u64b(0));
        t.buf = buf;
        t
    }

    pub fn u16b(&self, v: u16) -> [u8; 2] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    pub fn u32b(&self, v: u32) -> [u8; 4] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    pub fn u64b(&self, v: u64) -> [u8; 8] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    fn align(&mut self) {
        if self.buf.len() % 2 == 1 {
            self.buf.push(0);
        }
    }

    /// Append `data` (word-aligned); its offset.
    pub fn blob(&mut self, data: &[u8]) -> u32 {
        self.align();
        let at = self.buf.len() as u32;
        self.buf.extend_from_slice(data);
        at
    }

    /// Point the header at the IFD at `offset`.
    pub fn set_first_ifd(&mut self, offset: u64) {
        if self.big {
            let b = self.u64b(offset);
            self.buf[8..16].copy_from_slice(&b);
        } else {
            let b = self.u32b(offset as u32);
            self.buf[4..8].copy_from_slice(&b);
        }
    }

    /// The offset the next IFD written will get.
    pub fn next_offset(&self) -> u32 {
        (self.buf.len() + self.buf.len() % 2) as u32
    }

    /// Write an IFD with `entries` (sorted by tag as written by the caller;
    /// not re-sorted, so out-of-order tags stay out of order) and the
    /// next-IFD offset `next`; values longer than the entry's value field
    /// follow the IFD. Returns the IFD's offset.
    pub fn ifd(&mut self, entries: &[Entry], next: u64) -> u32 {
        self.align();
        let at = self.buf.len();
        let (count_size, entry_size, field, next_size) = if self.big {
            (8, 20, 8, 8)
        } else {
            (2, 12, 4, 4)
        };
        let values_at = at + count_size + entries.len() * entry_size + next_size;
        let mut dir = Vec::new();
        let mut values: Vec<u8> = Vec::new();
        if self.big {
            dir.extend_from_slice(&self.u64b(entries.len() as u64));
        } else {
            dir.extend_from_slice(&self.u16b(entries.len() as u16));
        }
        for (tag, val) in entries {
            let (typ, count, bytes, pointer) = self.encode(val);
            dir.extend_from_slice(&self.u16b(*tag));
            dir.extend_from_slice(&self.u16b(typ));
            if self.big {
                dir.extend_from_slice(&self.u64b(u64::from(count)));
            } else {
                dir.extend_from_slice(&self.u32b(count));
            }
            if let Some(p) = pointer {
                if self.big {
                    dir.extend_from_slice(&self.u64b(u64::from(p)));
                } else {
                    dir.extend_from_slice(&self.u32b(p));
                }
            } else if bytes.len() <= field {
                let mut v = bytes.clone();
                v.resize(field, 0);
                dir.extend_from_slice(&v);
            } else {
                if values.len() % 2 == 1 {
                    values.push(0);
                }
                let off = (values_at + values.len()) as u64;
                if self.big {
                    dir.extend_from_slice(&self.u64b(off));
                } else {
                    dir.extend_from_slice(&self.u32b(off as u32));
                }
                values.extend_from_slice(&bytes);
            }
        }
        if self.big {
            dir.extend_from_slice(&self.u64b(next));
        } else {
            dir.extend_from_slice(&self.u32b(next as u32));
        }
        self.buf.extend_from_slice(&dir);
        self.buf.extend_from_slice(&values);
        at as u32
    }

    fn encode(&self, val: &Val) -> (u16, u32, Vec<u8>, Option<u32>) {
        match val {
            Val::Short(v) => (
                3,
                v.len() as u32,
                v.iter().flat_map(|x| self.u16b(*x)).collect(),
                None,
            ),
            Val::Long(v) => (
                4,
                v.len() as u32,
                v.iter().flat_map(|x| self.u32b(*x)).collect(),
                None,
            ),
            Val::Ascii(s) => {
                let mut b = s.clone();
                b.push(0);
                (2, b.len() as u32, b, None)
            }
            Val::Raw { typ, count, bytes } => (*typ, *count, bytes.clone(), None),
            Val::Pointer { typ, count, offset } => (*typ, *count, Vec::new(), Some(*offset)),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A pointer-like LONG entry (an IFD offset, a strip offset).
pub fn ptr(offset: u32) -> Val {
    Val::Pointer {
        typ: 4,
        count: 1,
        offset,
    }
}

/// EXIF payload (the TIFF structure, without the `Exif\0\0` prefix) with
/// IFD0 holding `entries`, little-endian, no next IFD.
pub fn exif_tiff(entries: &[Entry]) -> Vec<u8> {
    let mut t = Tiff::new(true);
    let at = t.next_offset();
    t.set_first_ifd(u64::from(at));
    t.ifd(entries, 0);
    t.finish()
}

/// Hostile EXIF blocks (TIFF structure, no prefix): `(name, bytes)`.
/// Orientation values outside 1..=8, entry counts that run past the end,
/// IFD loops, sub-IFD pointers into themselves or past the end, counts
/// that overflow when multiplied by the type size.
pub fn hostile_exif() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for o in [0u16, 9, 255, 65535] {
        out.push((
            format!("orientation-{o}"),
            exif_tiff(&[(0x0112, Val::Short(vec![o]))]),
        ));
    }
    // Orientation as a LONG array whose data lies past the end.
    out.push((
        "orientation-long-past-end".into(),
        exif_tiff(&[(
            0x0112,
            Val::Pointer {
                typ: 4,
                count: 1000,
                offset: 0x00ff_ff00,
            },
        )]),
    ));
    // 65535 entries declared, 1 present.
    {
        let mut t = Tiff::new(true);
        t.set_first_ifd(8);
        t.buf.extend_from_slice(&t.u16b(65535));
        let e = [t.u16b(0x0112), t.u16b(3), [1, 0], [0, 0]].concat();
        t.buf.extend_from_slice(&e);
        t.buf.extend_from_slice(&t.u32b(1));
        t.buf.extend_from_slice(&t.u32b(0));
        out.push(("ifd-count-65535".into(), t.finish()));
    }
    // IFD0's next IFD is itself.
    {
        let mut t = Tiff::new(true);
        t.set_first_ifd(8);
        t.ifd(&[(0x0112, Val::Short(vec![6]))], 8);
        out.push(("ifd-loop-self".into(), t.finish()));
    }
    // IFD0 -> IFD1 -> IFD0.
    {
        let mut t = Tiff::new(true);
        t.set_first_ifd(8);
        // IFD0 at 8 with 1 entry is 18 bytes: IFD1 at 26.
        t.ifd(&[(0x0112, Val::Short(vec![3]))], 26);
        t.ifd(&[(0x0100, Val::Long(vec![1]))], 8);
        out.push(("ifd-loop-two".into(), t.finish()));
    }
    // The EXIF sub-IFD pointer (34665) and the GPS pointer point at IFD0.
    {
        let mut t = Tiff::new(true);
        t.set_first_ifd(8);
        t.ifd(
            &[
                (0x0112, Val::Short(vec![8])),
                (0x8769, ptr(8)),
                (0x8825, ptr(8)),
            ],
            0,
        );
        out.push(("subifd-loop".into(), t.finish()));
    }
    // Sub-IFD pointers past the end and to odd offsets.
    out.push((
        "subifd-past-end".into(),
        exif_tiff(&[
            (0x0112, Val::Short(vec![2])),
            (0x8769, ptr(0x7fff_fff0)),
            (0xa005, ptr(3)),
        ]),
    ));
    // A DOUBLE array of 2^32-1 values: count times size overflows 32 bits.
    out.push((
        "count-overflow".into(),
        exif_tiff(&[
            (
                0x010f,
                Val::Pointer {
                    typ: 12,
                    count: u32::MAX,
                    offset: 8,
                },
            ),
            (0x0112, Val::Short(vec![5])),
        ]),
    ));
    // Unknown type 0 and type 99, a thumbnail offset past the end.
    out.push((
        "bad-types-and-thumbnail".into(),
        exif_tiff(&[
            (
                0x0110,
                Val::Raw {
                    typ: 0,
                    count: 4,
                    bytes: vec![1, 2, 3, 4],
                },
            ),
            (
                0x0112,
                Val::Raw {
                    typ: 99,
                    count: 1,
                    bytes: vec![6, 0, 0, 0],
                },
            ),
            (0x0201, ptr(0xffff_fff0)),
            (0x0202, Val::Long(vec![0xffff_ffff])),
        ]),
    ));
    // Big-endian orientation stored as ASCII, and a "TIFF" with magic 43.
    {
        let mut t = Tiff::new(false);
        t.set_first_ifd(8);
        t.ifd(&[(0x0112, Val::Ascii(b"6".to_vec()))], 0);
        out.push(("orientation-ascii-be".into(), t.finish()));
    }
    out.push((
        "bigtiff-magic".into(),
        [
            b"II".as_slice(),
            &[43, 0, 8, 0, 0, 0],
            &[8, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat(),
    ));
    out.push((
        "byte-order-xx".into(),
        b"XX\x2a\x00\x08\x00\x00\x00".to_vec(),
    ));
    out
}
