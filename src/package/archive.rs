//! The zip files of bundles, written by hand so that every byte is ours to fix.
//!
//! An entry is deflated in chunks of [`CHUNK`] bytes, each on its own thread, as pigz does:
//! every chunk but the last ends with a sync flush, which byte-aligns the stream with an empty
//! stored block, so the chunks' outputs joined in order are one valid deflate stream, and
//! their CRC-32s combine into the entry's. Chunks start with an empty window, which costs
//! well under 1% of the compressed size at this chunk size. The archive holds only what the
//! bundle format allows (see the parent module): no folders, no extra fields, no comments,
//! the DOS epoch as every time and mode 0644. It is plain zip, without zip64: an entry or
//! bundle of 4 GiB or more, or more than 65,535 entries, is refused rather than written in a
//! form some importers cannot read. The format: PKWARE's APPNOTE.TXT, sections 4.3 and 4.4.

use std::io::Read;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

/// How much input one deflate task takes.
pub const CHUNK: usize = 1 << 20;

/// One chunk of an entry, deflated, with the CRC-32 of its input.
#[derive(Debug)]
pub struct Piece {
    bytes: Vec<u8>,
    crc: Crc,
}

/// A whole entry, deflated: its pieces' compressed bytes, which joined in order are its
/// deflate stream (kept apart, so that they are copied once, into the archive), and the CRC-32
/// and size of its content.
#[derive(Debug)]
pub struct Deflated {
    pub crc: u32,
    pieces: Vec<Vec<u8>>,
    pub size: u64,
}

impl Deflated {
    /// Joins the pieces of one entry, in order; the last must have been deflated as last.
    pub fn join(pieces: Vec<Piece>) -> Deflated {
        let mut crc = Crc::new();
        let mut size = 0u64;
        let mut streams = Vec::with_capacity(pieces.len());
        for piece in pieces {
            size += u64::from(piece.crc.amount());
            crc.combine(&piece.crc);
            streams.push(piece.bytes);
        }
        Deflated {
            crc: crc.sum(),
            pieces: streams,
            size,
        }
    }

    /// The length of the deflate stream.
    pub fn compressed_len(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum()
    }

    /// The deflate stream, piece by piece.
    pub fn stream(&self) -> impl Iterator<Item = &[u8]> {
        self.pieces.iter().map(Vec::as_slice)
    }

    /// The entry's content, inflated again.
    pub fn inflate(&self) -> Vec<u8> {
        let stream: Vec<u8> = self.stream().flatten().copied().collect();
        let mut content = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        flate2::read::DeflateDecoder::new(stream.as_slice())
            .read_to_end(&mut content)
            .expect("a stream deflated here inflates");
        content
    }
}

/// Deflates `data` at `level`, its chunks in parallel.
pub fn deflate(data: &[u8], level: u32) -> Deflated {
    Deflated::join(deflate_chunks(data, level, true))
}

/// Deflates `data` at `level` as pieces of a longer entry, its chunks in parallel; with
/// `last`, the final piece ends the entry.
pub fn deflate_chunks(data: &[u8], level: u32, last: bool) -> Vec<Piece> {
    let count = data.len().div_ceil(CHUNK).max(1);
    let pieces = (0..count).into_par_iter().map(|i| {
        let chunk = &data[(i * CHUNK).min(data.len())..((i + 1) * CHUNK).min(data.len())];
        deflate_piece(chunk, level, last && i + 1 == count)
    });
    pieces.collect()
}

/// Deflates one chunk of an entry: a sync flush ends it, or, for the last, the final block.
pub fn deflate_piece(chunk: &[u8], level: u32, last: bool) -> Piece {
    let mut compress = Compress::new(Compression::new(level), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut bytes = Vec::with_capacity(chunk.len() / 4 + 64);
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity().max(64));
        }
        let read = usize::try_from(compress.total_in()).expect("a chunk's size fits in usize");
        let status = compress
            .compress_vec(&chunk[read..], &mut bytes, flush)
            .expect("deflating a buffer in memory cannot fail");
        let all_read = compress.total_in() == chunk.len() as u64;
        // A flush is complete once it leaves output space unused; the last chunk ends with
        // the stream.
        let done = if last {
            status == Status::StreamEnd
        } else {
            all_read && bytes.len() < bytes.capacity()
        };
        if done {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(chunk);
    Piece { bytes, crc }
}

/// Why an archive cannot be written in plain zip.
#[derive(Debug, Eq, PartialEq)]
pub struct TooLarge(pub &'static str);

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0 of the format: deflate, no zip64.
const VERSION_NEEDED: u16 = 20;
/// Made by Unix (3) to version 2.0, so that the external attributes carry a Unix mode.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const METHOD_DEFLATE: u16 = 8;
/// Bit 11: the name is UTF-8; set only for names beyond ASCII, as other writers do.
const FLAG_UTF8: u16 = 1 << 11;
/// 1980-01-01 in DOS date form (year since 1980, month, day); the time is 00:00:00, zero.
const DOS_EPOCH_DATE: u16 = (1 << 5) | 1;
/// A regular file, mode 0644, in the high half of the external attributes.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// Writes a zip file of `entries`, in the order given. Each entry's compressed bytes are
/// dropped once copied, so the archive and its entries are held together only one at a time.
pub fn write(entries: Vec<(String, Deflated)>) -> Result<Vec<u8>, TooLarge> {
    let count = u16::try_from(entries.len()).map_err(|_| TooLarge("more than 65,535 entries"))?;
    let size: usize = entries
        .iter()
        .map(|(n, d)| 76 + 2 * n.len() + d.compressed_len())
        .sum();
    let mut out = Vec::with_capacity(size + 22);
    let mut records = Vec::with_capacity(entries.len());
    for (name, deflated) in entries {
        let record = Record {
            compressed: u32_of(deflated.compressed_len(), "an entry of 4 GiB")?,
            crc: deflated.crc,
            name,
            offset: u32_of(out.len(), "4 GiB")?,
            size: u32_of(deflated.size, "an entry of 4 GiB")?,
        };
        header(&mut out, LOCAL_HEADER, &record)?;
        deflated
            .stream()
            .for_each(|piece| out.extend_from_slice(piece));
        records.push(record);
    }
    let directory_start = u32_of(out.len(), "4 GiB")?;
    for record in &records {
        header(&mut out, CENTRAL_HEADER, record)?;
    }
    let directory_size = u32_of(out.len(), "4 GiB")? - directory_start;
    put32(&mut out, END_OF_CENTRAL_DIRECTORY);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // the disk the central directory starts on
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, directory_size);
    put32(&mut out, directory_start);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// What the headers say of one entry.
struct Record {
    compressed: u32,
    crc: u32,
    name: String,
    /// Where its local header starts.
    offset: u32,
    size: u32,
}

/// An entry's local file header, or its central directory header.
fn header(out: &mut Vec<u8>, signature: u32, record: &Record) -> Result<(), TooLarge> {
    let central = signature == CENTRAL_HEADER;
    let name = &record.name;
    put32(out, signature);
    if central {
        put16(out, VERSION_MADE_BY);
    }
    put16(out, VERSION_NEEDED);
    put16(out, if name.is_ascii() { 0 } else { FLAG_UTF8 });
    put16(out, METHOD_DEFLATE);
    put16(out, 0); // time: 00:00:00
    put16(out, DOS_EPOCH_DATE);
    put32(out, record.crc);
    put32(out, record.compressed);
    put32(out, record.size);
    put16(
        out,
        u16::try_from(name.len()).map_err(|_| TooLarge("an entry name of 64 KiB"))?,
    );
    put16(out, 0); // extra field length
    if central {
        put16(out, 0); // comment length
        put16(out, 0); // disk number
        put16(out, 0); // internal attributes
        put32(out, EXTERNAL_ATTRIBUTES);
        put32(out, record.offset);
    }
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn u32_of(value: impl TryInto<u32>, limit: &'static str) -> Result<u32, TooLarge> {
    value.try_into().map_err(|_| TooLarge(limit))
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use zip::ZipArchive;

    use super::*;

    /// Rule-like text that compresses as rule files do, several chunks long and not a whole
    /// number of them: words and numbers drawn by a fixed linear congruential generator.
    fn text(len: usize) -> Vec<u8> {
        let words = [
            "alert", "tcp", "http", "msg:\"ET", "sid:", "rev:", "content:", "flow;",
        ];
        let mut state = 7u64;
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let word = words[(state >> 60) as usize % words.len()];
            out.extend_from_slice(format!("{word}{} ", (state >> 40) % 5000).as_bytes());
            if state >> 59 == 0 {
                out.push(b'\n');
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn chunks_deflated_apart_join_into_one_stream_with_the_whole_crc() {
        for len in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            let data = text(len);
            let deflated = deflate(&data, 6);
            assert_eq!(deflated.inflate(), data, "{len} bytes");
            assert_eq!(deflated.size, len as u64);
            let mut crc = Crc::new();
            crc.update(&data);
            assert_eq!(deflated.crc, crc.sum(), "{len} bytes");
        }
    }

    #[test]
    fn chunking_costs_little_compression() {
        let data = text(4 * CHUNK);
        let whole = deflate_piece(&data, 6, true).bytes.len();
        let chunked = deflate(&data, 6).compressed_len();
        assert!(chunked < whole + whole / 100, "{chunked} against {whole}");
    }

    #[test]
    fn another_reader_sees_the_entries_their_content_times_and_modes() {
        let files = [
            ("a/b.rules", b"first\n".to_vec()),
            ("c/\u{e9}.yaml", text(CHUNK + 5)),
        ];
        let entries = (files.iter())
            .map(|(name, content)| (name.to_string(), deflate(content, 6)))
            .collect();
        let bytes = write(entries).expect("small enough");
        let mut archive = ZipArchive::new(Cursor::new(bytes)).expect("a zip");
        assert_eq!(archive.len(), 2);
        for (i, (name, expected)) in files.iter().enumerate() {
            let mut entry = archive.by_index(i).expect("an entry");
            assert_eq!(entry.name().expect("a name"), *name);
            assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
            assert_eq!(entry.unix_mode(), Some(0o100_644));
            assert!(entry.extra_data().is_none_or(|e| e.is_empty()));
            let mut content = Vec::new();
            entry
                .read_to_end(&mut content)
                .expect("inflates and passes its CRC");
            assert_eq!(&content, expected);
        }
    }

    #[test]
    fn an_archive_of_no_entries_is_a_bare_end_record() {
        let bytes = write(Vec::new()).expect("small enough");
        assert_eq!(bytes.len(), 22);
        assert_eq!(ZipArchive::new(Cursor::new(bytes)).expect("a zip").len(), 0);
    }

    #[test]
    fn more_entries_than_plain_zip_counts_are_refused() {
        let entries: Vec<(String, Deflated)> = (0..=u16::MAX as usize)
            .map(|i| (i.to_string(), deflate(b"", 6)))
            .collect();
        assert_eq!(write(entries), Err(TooLarge("more than 65,535 entries")));
    }
}
