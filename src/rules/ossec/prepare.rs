//! Turns a Wazuh rule file into a document roxmltree accepts, and maps offsets back.
//!
//! A rule file is a list of top-level `<var>` and `<group>` elements, not one document, so it
//! goes inside a synthetic root element. The opening tag sits on line 1 with no newline, so
//! lines do not move and only columns on line 1 shift, by the tag's length.
//!
//! Wazuh's own reader (`os_xml`) is not an XML parser: it takes text literally, entities
//! included, and ends a comment at the first `-->`. Real rule files lean on that: a bare `&`
//! in a `<match>`, `--` inside comments. Those are repaired here so that roxmltree reads what
//! Wazuh reads, and each repair is reported as a warning at its place in the file. A bare `&`
//! becomes `&amp;`, which is longer, so the insertions are kept to map offsets back; a `--` in
//! a comment becomes `- `, the same length.

/// The synthetic root element's name. Messages that name it say "the end of the file".
pub(super) const ROOT: &str = "rulecut-file";
const OPEN: &str = "<rulecut-file>";
const CLOSE: &str = "</rulecut-file>";

/// The predefined XML entities roxmltree knows; any other `&name;` is an error to it.
const ENTITIES: [&str; 5] = ["amp;", "apos;", "gt;", "lt;", "quot;"];

/// A change made so that roxmltree can read the file, at its offset in the file.
pub(super) struct Repair {
    pub(super) message: &'static str,
    pub(super) offset: usize,
}

/// The text roxmltree reads, with the way back to the file.
pub(super) struct Prepared {
    /// Text inserted into the file's body: (offset in the body where it starts, where it
    /// ends, bytes inserted up to its end), in order.
    insertions: Vec<(usize, usize, usize)>,
    original_len: usize,
    pub(super) repairs: Vec<Repair>,
    pub(super) xml: String,
}

impl Prepared {
    pub(super) fn new(text: &str) -> Prepared {
        let mut lexer = Lexer {
            bytes: text.as_bytes(),
            insertions: Vec::new(),
            out: Vec::with_capacity(text.len() + OPEN.len() + CLOSE.len()),
            repairs: Vec::new(),
        };
        lexer.run();
        let body = String::from_utf8(lexer.out).expect("only ASCII bytes are replaced or added");
        Prepared {
            insertions: lexer.insertions,
            original_len: text.len(),
            repairs: lexer.repairs,
            xml: format!("{OPEN}{body}{CLOSE}"),
        }
    }

    /// The offset in the file of an offset in `xml`. An offset inside inserted text maps to
    /// the end of the character it was inserted after; one in the closing tag, to the end.
    pub(super) fn original(&self, at: usize) -> usize {
        let at = at.saturating_sub(OPEN.len());
        let index = self
            .insertions
            .partition_point(|&(start, _, _)| start <= at);
        let original = match index.checked_sub(1).map(|i| self.insertions[i]) {
            None => at,
            Some((start, end, inserted)) if at < end => start - (inserted - (end - start)),
            Some((_, _, inserted)) => at - inserted,
        };
        original.min(self.original_len)
    }

    /// The offset in `xml` of a 1-based row and column (in characters), as roxmltree gives
    /// them in its errors.
    pub(super) fn offset_of(&self, row: u32, column: u32) -> usize {
        let rows = usize::try_from(row.saturating_sub(1)).unwrap_or(usize::MAX);
        let line_start: usize = self
            .xml
            .split_inclusive('\n')
            .take(rows)
            .map(str::len)
            .sum();
        let columns = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
        let line = &self.xml[line_start..];
        let within = line
            .char_indices()
            .nth(columns)
            .map_or(line.len(), |(at, _)| at);
        line_start + within
    }
}

/// Copies the file's bytes, repairing what Wazuh accepts and XML does not.
struct Lexer<'a> {
    bytes: &'a [u8],
    insertions: Vec<(usize, usize, usize)>,
    out: Vec<u8>,
    repairs: Vec<Repair>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        let mut at = self.declaration();
        // The quote that closes the attribute value being read, inside a tag.
        let mut quote: Option<u8> = None;
        let mut in_tag = false;
        while at < self.bytes.len() {
            let rest = &self.bytes[at..];
            let byte = rest[0];
            if !in_tag && rest.starts_with(b"<!--") {
                at = self.comment(at);
                continue;
            }
            if !in_tag && (rest.starts_with(b"<![CDATA[") || rest.starts_with(b"<?")) {
                let close: &[u8] = if byte == b'<' && rest[1] == b'?' {
                    b"?>"
                } else {
                    b"]]>"
                };
                at = self.copy_through(at, close);
                continue;
            }
            match (in_tag, quote, byte) {
                (false, _, b'<') => in_tag = true,
                (true, None, b'"' | b'\'') => quote = Some(byte),
                (true, Some(open), _) if open == byte => quote = None,
                (true, None, b'>') => in_tag = false,
                (false, _, b'&') | (true, Some(_), b'&') if !is_entity(&rest[1..]) => {
                    self.bare_ampersand(at);
                    at += 1;
                    continue;
                }
                _ => {}
            }
            self.out.push(byte);
            at += 1;
        }
    }

    /// An XML declaration may open a file, but not inside the synthetic root: blank it.
    fn declaration(&mut self) -> usize {
        if !self.bytes.starts_with(b"<?xml") {
            return 0;
        }
        let end = find(self.bytes, 0, b"?>").map_or(self.bytes.len(), |at| at + 2);
        let blank = |&b: &u8| if b == b'\n' { b'\n' } else { b' ' };
        self.out.extend(self.bytes[..end].iter().map(blank));
        end
    }

    /// Copies a comment, turning each `-` that follows another `-` into a space.
    fn comment(&mut self, start: usize) -> usize {
        let body = start + 4;
        let Some(close) = find(self.bytes, body, b"-->") else {
            // Unclosed: copied as is, for roxmltree to report.
            return self.copy_through(start, b"-->");
        };
        self.out.extend_from_slice(b"<!--");
        let mut repaired = None;
        for at in body..close {
            let byte = self.bytes[at];
            let after_dash = at > body && self.bytes[at - 1] == b'-';
            // A `-` just before `-->` would make `--->`, which XML forbids too.
            let before_close = at + 1 == close;
            if byte == b'-' && (after_dash || before_close) {
                repaired.get_or_insert(if after_dash { at - 1 } else { at });
                self.out.push(b' ');
            } else {
                self.out.push(byte);
            }
        }
        self.out.extend_from_slice(b"-->");
        if let Some(offset) = repaired {
            let message = "not strict XML: `--` inside a comment, which XML forbids; \
                           read as Wazuh does, up to the first `-->`";
            self.repairs.push(Repair { message, offset });
        }
        close + 3
    }

    /// Copies up to and including `close`, or to the end when it never comes.
    fn copy_through(&mut self, start: usize, close: &[u8]) -> usize {
        let found = find(self.bytes, start + 2, close);
        let end = found.map_or(self.bytes.len(), |at| at + close.len());
        self.out.extend_from_slice(&self.bytes[start..end]);
        end
    }

    fn bare_ampersand(&mut self, at: usize) {
        self.out.extend_from_slice(b"&amp;");
        let start = self.out.len() - 4;
        let inserted = self.insertions.last().map_or(0, |&(_, _, total)| total) + 4;
        self.insertions.push((start, self.out.len(), inserted));
        let message = "not strict XML: bare `&`, read as a literal `&` as Wazuh does; \
                       write `&amp;` to be strict";
        self.repairs.push(Repair {
            message,
            offset: at,
        });
    }
}

/// True where the text after a `&` is a predefined entity or a character reference.
fn is_entity(after: &[u8]) -> bool {
    if ENTITIES
        .iter()
        .any(|name| after.starts_with(name.as_bytes()))
    {
        return true;
    }
    let Some(reference) = after.strip_prefix(b"#") else {
        return false;
    };
    let (digits, hex) = match reference.strip_prefix(b"x") {
        Some(digits) => (digits, true),
        None => (reference, false),
    };
    let count = digits
        .iter()
        .take_while(|b| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        })
        .count();
    count > 0 && digits.get(count) == Some(&b';')
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let from = from.min(bytes.len());
    bytes[from..]
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| from + at)
}
