//! The on-disk layout of the `kv` store, drawn from real bytes: a store on
//! the simulated disk takes a few puts, a batch and a delete, and the
//! figure decodes its segment files with `kv::record::decode` and draws
//! them, record by record and, for one record, byte by byte.

use anyhow::{Context, Result, ensure};
use kv::record::{HEADER_LEN, Kind, Limits, decode};
use kv::{Durability, Options, SimDisk, Storage, Store, WriteBatch};
use plotters::prelude::*;

use crate::Figure;
use crate::diagram::{Font, canvas, light, line, rect, text, text_width};
use crate::plot::PALETTE;

/// The command that renders (or, with `--check`, checks) these figures.
const COMMAND: &str = "cargo run --release -p visualizations -- figures";

/// Small enough that the writes fill the first segment: it is sealed and
/// a second one started.
const SEGMENT_BYTES: u64 = 128;

/// The figures of this module.
pub(crate) fn all() -> Vec<Figure> {
    vec![Figure {
        name: "kv-record-layout.svg",
        render: record_layout,
    }]
}

fn err(error: kv::Error) -> anyhow::Error {
    anyhow::anyhow!("kv: {error}")
}

/// A record as found in a segment file.
struct Found {
    offset: usize,
    len: usize,
    seq: u64,
    kind: Kind,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// A segment file: its name, its bytes and its records.
type Segment = (String, Vec<u8>, Vec<Found>);

/// The writes, and each segment file's decoded records and bytes.
fn write_and_read() -> Result<Vec<Segment>> {
    let disk = SimDisk::new();
    let options = Options {
        durability: Durability::Always,
        segment_size_bytes: SEGMENT_BYTES,
        ..Options::default()
    };
    let store = Store::open(disk.clone(), options).map_err(err)?;
    store.put(b"cat", b"meow").map_err(err)?;
    store.put(b"dog", b"woof").map_err(err)?;
    let mut batch = WriteBatch::new();
    batch.put(&b"emu"[..], &b"ok"[..]).delete(&b"cat"[..]);
    store.write_batch(batch).map_err(err)?;
    store.delete(b"dog").map_err(err)?;
    let limits = Limits {
        key_len_max: options.key_len_max,
        value_len_max: options.value_len_max,
    };
    let mut names: Vec<String> = disk
        .list()?
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    let mut segments = Vec::new();
    for name in names {
        let bytes = disk.contents(&name)?;
        let mut found = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let record =
                decode(&bytes[at..], limits).map_err(|e| anyhow::anyhow!("{name} at {at}: {e}"))?;
            let len = record.encoded_len();
            found.push(Found {
                offset: at,
                len,
                seq: record.seq,
                kind: record.kind,
                key: record.key.to_vec(),
                value: record.value.to_vec(),
            });
            at += len;
        }
        segments.push((name, bytes, found));
    }
    ensure!(
        segments.len() == 2,
        "expected a sealed segment and an active one, found {}",
        segments.len()
    );
    Ok(segments)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Put => "put",
        Kind::Delete => "delete",
        Kind::Commit => "commit",
        Kind::Seal => "seal",
        Kind::BatchPut => "batch put",
        Kind::BatchDelete => "batch delete",
    }
}

fn kind_color(kind: Kind) -> RGBColor {
    match kind {
        Kind::Put => RGBColor(190, 220, 245),
        Kind::Delete => RGBColor(250, 205, 180),
        Kind::BatchPut => RGBColor(180, 230, 210),
        Kind::BatchDelete => RGBColor(215, 235, 180),
        Kind::Commit => RGBColor(230, 200, 225),
        Kind::Seal => RGBColor(215, 215, 215),
    }
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A header field: name, offset, length, colour.
const FIELDS: [(&str, usize, usize, RGBColor); 5] = [
    ("crc", 0, 4, PALETTE[1]),
    ("key_len", 4, 4, PALETTE[4]),
    ("value_len", 8, 4, PALETTE[3]),
    ("seq", 12, 8, PALETTE[5]),
    ("kind", 20, 1, PALETTE[2]),
];

fn record_layout() -> Result<String> {
    let segments = write_and_read()?;
    let (_, first_bytes, first_records) = &segments[0];
    let zoom = first_records.first().context("an empty first segment")?;
    ensure!(
        zoom.kind == Kind::Put && HEADER_LEN == 21,
        "the first record is a put with a 21-byte header"
    );
    let last = first_records.last().context("an empty first segment")?;
    ensure!(
        last.kind == Kind::Seal && last.value == (last.offset as u64).to_le_bytes().as_slice(),
        "the first segment ends with a seal holding its own offset"
    );
    let footer = format!(
        "kv::Store on SimDisk, segment_size_bytes = {SEGMENT_BYTES}: put cat=meow, put dog=woof, batch {{put emu=ok, delete cat}}, delete dog; files read back and parsed with kv::record::decode · {COMMAND}"
    );
    canvas((1200, 600), &footer, |area| {
        text(
            area,
            "How does the kv store lay out its log? Segments of back-to-back records, each framed by a 21-byte header",
            (600, 20),
            Font::new(17).centered(),
        )?;
        // The segments, one bar each, on one scale of pixels per byte.
        let left = 150;
        let longest = segments.iter().map(|s| s.1.len()).max().unwrap_or(1);
        let scale = f64::from(1150 - left) / longest as f64;
        for (s, (name, bytes, records)) in segments.iter().enumerate() {
            let y = 70 + s as i32 * 110;
            text(
                area,
                name,
                (left - 10, y + 20),
                Font::new(13).bold().right(),
            )?;
            text(
                area,
                &format!("{} bytes", bytes.len()),
                (left - 10, y + 38),
                Font::new(11).color(RGBColor(90, 90, 90)).right(),
            )?;
            for r in records {
                let x = left + (r.offset as f64 * scale).round() as i32;
                let x1 = left + ((r.offset + r.len) as f64 * scale).round() as i32;
                rect(
                    area,
                    (x, y),
                    (x1, y + 40),
                    Some(kind_color(r.kind)),
                    Some(RGBColor(60, 60, 60)),
                )?;
                let what = match r.kind {
                    Kind::Put | Kind::BatchPut => {
                        format!("{}={}", printable(&r.key), printable(&r.value))
                    }
                    Kind::Delete | Kind::BatchDelete => printable(&r.key),
                    Kind::Commit => String::new(),
                    Kind::Seal => format!("at {}", r.offset),
                };
                let mid = (x + x1) / 2;
                text(
                    area,
                    kind_name(r.kind),
                    (mid, y + 13),
                    Font::new(11).bold().centered(),
                )?;
                text(area, &what, (mid, y + 28), Font::new(11).centered())?;
                text(
                    area,
                    &format!("seq {}", r.seq),
                    (mid, y + 50),
                    Font::new(10).color(RGBColor(90, 90, 90)).centered(),
                )?;
                text(
                    area,
                    &r.offset.to_string(),
                    (x + 2, y - 8),
                    Font::new(10).color(RGBColor(90, 90, 90)),
                )?;
            }
            let end = left + (bytes.len() as f64 * scale).round() as i32;
            text(
                area,
                &bytes.len().to_string(),
                (end + 2, y - 8),
                Font::new(10).color(RGBColor(90, 90, 90)),
            )?;
            // The batch: its records and commit share a seq.
            let batch: Vec<&Found> = records
                .iter()
                .filter(|r| r.kind.in_batch() || r.kind == Kind::Commit)
                .collect();
            if let (Some(a), Some(b)) = (batch.first(), batch.last()) {
                let x = left + (a.offset as f64 * scale).round() as i32;
                let x1 = left + ((b.offset + b.len) as f64 * scale).round() as i32;
                let by = y + 62;
                line(
                    area,
                    &[(x, by - 4), (x, by), (x1, by), (x1, by - 4)],
                    RGBColor(0, 0, 0),
                    1,
                )?;
                text(
                    area,
                    "one batch: applied together at its commit, or not at all",
                    ((x + x1) / 2, by + 10),
                    Font::new(11).centered(),
                )?;
            }
        }
        text(
            area,
            "the first segment filled up: a seal record holding its own offset closes it, and writes go on in the next",
            (left, 290),
            Font::new(12).color(RGBColor(90, 90, 90)),
        )?;
        // The zoomed record, byte by byte.
        let bytes = &first_bytes[zoom.offset..zoom.offset + zoom.len];
        let cell = 40;
        let zx = 600 - (cell * bytes.len() as i32) / 2;
        let zy = 400;
        text(
            area,
            &format!(
                "the first record, byte by byte (offsets within the record; multi-byte integers little-endian): put {}={}",
                printable(&zoom.key),
                printable(&zoom.value)
            ),
            (zx, zy - 52),
            Font::new(13).bold(),
        )?;
        // Lines from the record in the segment bar down to the zoom.
        let sx0 = left + (zoom.offset as f64 * scale).round() as i32;
        let sx1 = left + ((zoom.offset + zoom.len) as f64 * scale).round() as i32;
        line(
            area,
            &[(sx0, 112), (zx, zy - 40)],
            RGBColor(200, 200, 200),
            1,
        )?;
        line(
            area,
            &[(sx1, 112), (zx + cell * bytes.len() as i32, zy - 40)],
            RGBColor(200, 200, 200),
            1,
        )?;
        let key_end = HEADER_LEN + zoom.key.len();
        let mut spans: Vec<(String, usize, usize, RGBColor)> = FIELDS
            .iter()
            .map(|&(n, o, l, c)| (n.to_owned(), o, l, c))
            .collect();
        spans.push(("key".to_owned(), HEADER_LEN, zoom.key.len(), PALETTE[0]));
        spans.push((
            "value".to_owned(),
            key_end,
            zoom.value.len(),
            RGBColor(120, 120, 120),
        ));
        for (name, offset, len, color) in &spans {
            let x = zx + *offset as i32 * cell;
            let x1 = x + *len as i32 * cell;
            rect(area, (x, zy - 34), (x1 - 2, zy - 14), Some(*color), None)?;
            let label = if text_width(name, 12) < x1 - x - 4 {
                name.clone()
            } else {
                String::new()
            };
            text(
                area,
                &label,
                ((x + x1) / 2, zy - 24),
                Font::new(12).bold().color(WHITE).centered(),
            )?;
            for i in 0..*len {
                let b = bytes[offset + i];
                let bx = x + i as i32 * cell;
                rect(
                    area,
                    (bx, zy),
                    (bx + cell - 2, zy + 40),
                    Some(light(*color)),
                    Some(*color),
                )?;
                text(
                    area,
                    &format!("{b:02x}"),
                    (bx + cell / 2 - 1, zy + 14),
                    Font::new(13).centered(),
                )?;
                let shown = if (b as char).is_ascii_graphic() && *offset >= HEADER_LEN {
                    (b as char).to_string()
                } else {
                    String::new()
                };
                text(
                    area,
                    &shown,
                    (bx + cell / 2 - 1, zy + 31),
                    Font::new(11).color(RGBColor(90, 90, 90)).centered(),
                )?;
            }
            text(
                area,
                &offset.to_string(),
                (x + 2, zy + 52),
                Font::new(11).color(RGBColor(60, 60, 60)),
            )?;
        }
        text(
            area,
            &bytes.len().to_string(),
            (zx + cell * bytes.len() as i32 + 2, zy + 52),
            Font::new(11).color(RGBColor(60, 60, 60)),
        )?;
        // What the header fields decode to.
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let decoded = [
            format!(
                "crc = {:#010x}: CRC-32C of bytes 4..{} (everything after itself)",
                u32_at(0),
                bytes.len()
            ),
            format!(
                "key_len = {}, value_len = {}, seq = {}, kind = {} ({}); record length = {} + {} + {} = {}",
                u32_at(4),
                u32_at(8),
                zoom.seq,
                bytes[20],
                kind_name(zoom.kind),
                HEADER_LEN,
                zoom.key.len(),
                zoom.value.len(),
                zoom.len
            ),
        ];
        for (k, d) in decoded.iter().enumerate() {
            text(area, d, (zx, zy + 80 + 18 * k as i32), Font::new(12))?;
        }
        // Legend of record kinds.
        let mut x = 150;
        let y = 548;
        text(area, "record kinds:", (20, y), Font::new(12))?;
        for kind in [
            Kind::Put,
            Kind::Delete,
            Kind::BatchPut,
            Kind::BatchDelete,
            Kind::Commit,
            Kind::Seal,
        ] {
            rect(
                area,
                (x - 40, y - 8),
                (x - 24, y + 8),
                Some(kind_color(kind)),
                Some(RGBColor(60, 60, 60)),
            )?;
            let name = format!("{} = {:#04x}", kind_name(kind), kind as u8);
            text(area, &name, (x - 18, y), Font::new(12))?;
            x += text_width(&name, 12) + 50;
        }
        Ok(())
    })
}
