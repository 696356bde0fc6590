//! Where things are in a scenario's JSON text: a small parser that keeps the byte span of
//! every value and object key, so that semantic errors (an unknown status in step 4, a step in
//! the wrong phase) can point at the exact line.
//!
//! It runs only on text that `serde_json` already read (or failed on for a reason other than
//! syntax), so it is lenient: on anything it does not understand it gives up and the error is
//! reported without a span.

use std::ops::Range;

/// A JSON value with the byte range it covers in the source.
#[derive(Clone, Debug)]
pub struct Spanned {
    /// Bytes of the whole value.
    pub span: Range<usize>,
    /// The value.
    pub node: Node,
}

/// A JSON value whose children carry spans.
#[derive(Clone, Debug)]
pub enum Node {
    /// Object members in order: key, key span, value.
    Object(Vec<(String, Range<usize>, Spanned)>),
    /// Array elements.
    Array(Vec<Spanned>),
    /// A string (unescaped only for the simple escapes).
    String(String),
    /// Any number, boolean or null.
    Scalar,
}

impl Spanned {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        match &self.node {
            Node::Object(members) => members.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// The span of the key `key` of an object.
    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        match &self.node {
            Node::Object(members) => members
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, s, _)| s.clone()),
            _ => None,
        }
    }

    /// Element `index` of an array.
    pub fn index(&self, index: usize) -> Option<&Spanned> {
        match &self.node {
            Node::Array(items) => items.get(index),
            _ => None,
        }
    }

    /// The innermost object containing `offset` that has a key `key`; its key span.
    pub fn find_key_near(&self, key: &str, offset: usize) -> Option<Range<usize>> {
        let mut best: Option<(usize, Range<usize>)> = None;
        self.walk(&mut |v| {
            if let Node::Object(members) = &v.node {
                let contains = v.span.start <= offset && offset <= v.span.end;
                for (k, ks, _) in members {
                    if k == key {
                        // Prefer the smallest object around the error; otherwise the nearest key.
                        let rank = if contains {
                            v.span.len()
                        } else {
                            usize::MAX / 2 + ks.start.abs_diff(offset)
                        };
                        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                            best = Some((rank, ks.clone()));
                        }
                    }
                }
            }
        });
        best.map(|(_, s)| s)
    }

    /// The innermost value whose span contains `offset`.
    pub fn innermost_at(&self, offset: usize) -> Option<&Spanned> {
        if !(self.span.start <= offset && offset <= self.span.end) {
            return None;
        }
        let inner = match &self.node {
            Node::Object(members) => members.iter().find_map(|(_, _, v)| v.innermost_at(offset)),
            Node::Array(items) => items.iter().find_map(|v| v.innermost_at(offset)),
            _ => None,
        };
        inner.or(Some(self))
    }

    fn walk(&self, f: &mut impl FnMut(&Spanned)) {
        f(self);
        match &self.node {
            Node::Object(members) => members.iter().for_each(|(_, _, v)| v.walk(f)),
            Node::Array(items) => items.iter().for_each(|v| v.walk(f)),
            _ => {}
        }
    }
}

/// Parses `text`; `None` when it is not JSON this parser understands.
pub fn parse(text: &str) -> Option<Spanned> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    (p.pos == p.bytes.len()).then_some(v)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.bytes.len()
            && matches!(self.bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self) -> Option<Spanned> {
        self.ws();
        // Scenario files are shallow; a deep nest is hostile input, not a scenario.
        if self.depth > 128 {
            return None;
        }
        let start = self.pos;
        let node = match self.peek()? {
            b'{' => {
                self.depth += 1;
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        let key_start = self.pos;
                        let key = self.string()?;
                        let key_span = key_start..self.pos;
                        self.ws();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.pos += 1;
                        let v = self.value()?;
                        members.push((key, key_span, v));
                        self.ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Node::Object(members)
            }
            b'[' => {
                self.depth += 1;
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Node::Array(items)
            }
            b'"' => Node::String(self.string()?),
            _ => {
                while self.pos < self.bytes.len()
                    && !matches!(
                        self.bytes[self.pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                Node::Scalar
            }
        };
        Some(Spanned {
            span: start..self.pos,
            node,
        })
    }

    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            // Kept verbatim; spans matter here, not the exact text.
                            out.extend_from_slice(b"\\u");
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8(out).ok()
    }
}

/// Byte offset of a 1-based line and column as `serde_json` reports them.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return (offset + column.saturating_sub(1)).min(text.len());
        }
        offset += l.len();
    }
    text.len()
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The start offsets of the lines of a text, for many line lookups in one text.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text` (one pass).
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|s| *s <= offset)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values_and_keys() {
        let text = "{\n  \"steps\": [ {\"op\": \"A\"}, {\"op\": \"B\", \"x\": 1} ]\n}";
        let v = parse(text).unwrap();
        let second = v.get("steps").unwrap().index(1).unwrap();
        assert_eq!(&text[second.span.clone()], "{\"op\": \"B\", \"x\": 1}");
        let key = second.key_span("x").unwrap();
        assert_eq!(&text[key.clone()], "\"x\"");
        assert_eq!(line_col(text, key.start), (2, 39));
        let index = LineIndex::new(text);
        assert_eq!(index.line(key.start), 2);
        assert_eq!(index.line(0), 1);
        assert_eq!(index.line(text.len()), text.lines().count());
        assert_eq!(offset_of(text, 2, 39), key.start);
        assert_eq!(v.find_key_near("x", second.span.end), Some(key));
    }

    #[test]
    fn garbage_gives_none_not_a_panic() {
        for bad in ["", "{", "[1,", "{\"a\" 1}", "\"unterminated", "{\"a\":}"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
