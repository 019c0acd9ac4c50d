//! One linear pass over a YAML or JSON text before it is parsed, to bound what parsing costs.
//!
//! The YAML parser's time grows with the square of the nesting of flow collections (`{a: {a:
//! ...`: 488 KiB of them took 105 s of CPU before the parser's own recursion limit refused them),
//! so how deep a text nests is measured here first, in one pass over its bytes, and a text nested
//! deeper than [`MAX_DEPTH`] is refused before the parser sees it.
//!
//! The measure is an estimate that errs on the deep side: flow collections (`[`, `{`) count
//! outside quoted scalars, comments and block scalars (`|`, `>`); block collections count as the
//! open indentation levels plus compact sequence entries (`- - x`); indentation inside a flow
//! collection (pretty-printed JSON) does not count twice. A real Kubernetes object nests about 15
//! deep (a CRD's schema about 60), far below the limit.

/// How deeply the collections of a document may nest. The YAML parser used after this check
/// refuses 128 levels itself; this limit is checked first, in linear time.
pub const MAX_DEPTH: usize = 100;

/// What the pass found: the deepest nesting and the line (1-based) where it was reached, and
/// whether parts of the text are tied together so that they cannot be read apart (see
/// [`crate::split`]): anchors `&a`, aliases `*a` and tags `!t`, or a quoted scalar or flow
/// collection that goes on at the first column of a line (which the YAML parser takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    pub depth: usize,
    pub line: usize,
    pub tied: bool,
}

/// The deepest nesting of `text` (see the module docs). Stops early, at the first line where
/// nesting passes `limit`, so that the work is linear and bounded by the text whatever it holds.
pub fn depth(text: &str, limit: usize) -> Depth {
    let mut scan = Scan::default();
    for (index, line) in text.split('\n').enumerate() {
        // The YAML parser also breaks lines at a lone CR, NEL, LS and PS.
        let line = line.strip_suffix('\r').unwrap_or(line);
        for part in line.split(['\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            scan.line(part.as_bytes(), index + 1);
        }
        if scan.deepest.depth > limit {
            break;
        }
    }
    scan.deepest
}

/// An open block collection: the column of its entries, and whether they are `- ` entries.
struct Level {
    column: usize,
    sequence: bool,
}

#[derive(Default)]
struct Scan {
    /// Open flow collections.
    flow: usize,
    /// Block nesting where the open flow collections started (flow lines do not indent).
    base: usize,
    /// The open block levels.
    indents: Vec<Level>,
    /// Inside a quoted scalar that spans lines: its quote.
    quote: Option<u8>,
    /// Inside a block scalar: the indentation its content must exceed (`-1` at document level).
    block_scalar: Option<isize>,
    deepest: Depth,
}

impl Scan {
    fn reach(&mut self, depth: usize, line: usize) {
        if depth > self.deepest.depth {
            self.deepest.depth = depth;
            self.deepest.line = line;
        }
    }

    fn line(&mut self, bytes: &[u8], number: usize) {
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let rest = &bytes[indent..];
        if (self.quote.is_some() || self.flow > 0) && indent == 0 && !rest.is_empty() && self.block_scalar.is_none() {
            self.deepest.tied = true;
        }
        if let Some(parent) = self.block_scalar {
            if rest.iter().all(|b| b.is_ascii_whitespace()) || indent as isize > parent {
                return;
            }
            self.block_scalar = None;
        }
        let mut at = indent;
        // The indentation a block scalar's content must exceed: the key's column, or for `- |`
        // the dash's.
        let (mut key_owner, mut dash_owner) = (indent as isize, indent as isize);
        if self.quote.is_none() && self.flow == 0 {
            if rest.is_empty() || rest[0] == b'#' || rest.iter().all(|b| b.is_ascii_whitespace()) {
                return;
            }
            let marker = |m: &[u8]| indent == 0 && rest.starts_with(m) && rest.get(3).is_none_or(|b| *b == b' ');
            let dash = |at: usize| bytes.get(at) == Some(&b'-') && bytes.get(at + 1).is_none_or(|b| *b == b' ');
            if marker(b"---") || marker(b"...") {
                self.indents.clear();
                at = 3;
                (key_owner, dash_owner) = (-1, -1);
            } else {
                self.open(indent, dash(at));
                // Compact nesting: `- - x` and `- key: v` open a level at the column of what follows the dash.
                while dash(at) {
                    dash_owner = at as isize;
                    at += 1;
                    while bytes.get(at) == Some(&b' ') {
                        at += 1;
                    }
                    if at < bytes.len() && bytes[at] != b'#' {
                        self.indents.push(Level { column: at, sequence: dash(at) });
                    }
                }
                key_owner = at as isize;
            }
            self.base = self.indents.len();
            self.reach(self.base, number);
        }
        self.tokens(bytes, at, (key_owner, dash_owner), number);
    }

    /// The block levels at a line indented by `indent`: deeper ones close; a sequence and the
    /// mapping whose key it is may share a column (`key:` then `- item` under it).
    fn open(&mut self, indent: usize, sequence: bool) {
        while self.indents.last().is_some_and(|top| top.column > indent) {
            self.indents.pop();
        }
        if !sequence && self.indents.last().is_some_and(|top| top.column == indent && top.sequence) {
            self.indents.pop();
        }
        match self.indents.last() {
            Some(top) if top.column == indent && top.sequence == sequence => {}
            _ => self.indents.push(Level { column: indent, sequence }),
        }
    }

    /// Flow collections, quotes, comments and block-scalar indicators from `at` to the end of the line.
    fn tokens(&mut self, bytes: &[u8], mut at: usize, (key_owner, dash_owner): (isize, isize), number: usize) {
        let start = at;
        // Whether a node may start here (only there do quotes, `[`, `{`, `|` and `>` mean syntax).
        let mut node_start = true;
        let mut previous = b' ';
        while at < bytes.len() {
            let b = bytes[at];
            if let Some(quote) = self.quote {
                if quote == b'"' && b == b'\\' {
                    at += 2;
                    continue;
                }
                if b == quote {
                    if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') {
                        at += 2;
                        continue;
                    }
                    self.quote = None;
                    node_start = false;
                }
                previous = b;
                at += 1;
                continue;
            }
            let next = bytes.get(at + 1).copied();
            let separated = next.is_none_or(|n| n == b' ' || n == b'\t');
            match b {
                b'#' if previous == b' ' || previous == b'\t' => return,
                b'"' | b'\'' if node_start => self.quote = Some(b),
                b'[' | b'{' if node_start || self.flow > 0 => {
                    self.flow += 1;
                    self.reach(self.base + self.flow, number);
                    node_start = true;
                }
                b']' | b'}' if self.flow > 0 => {
                    self.flow -= 1;
                    node_start = false;
                }
                b',' if self.flow > 0 => node_start = true,
                b':' if separated || self.flow > 0 => node_start = true,
                b'-' | b'?' if node_start && separated => {}
                b'|' | b'>' if node_start && self.flow == 0 => {
                    let header = &bytes[at + 1..];
                    let end = header.iter().position(|&c| c == b'#').unwrap_or(header.len());
                    if header[..end].iter().all(|&c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b' ' | b'\t')) {
                        self.block_scalar = Some(if at == start { dash_owner } else { key_owner });
                        return;
                    }
                    node_start = false;
                }
                // Anchors and tags come before the node they name; an alias is a node.
                b'&' | b'!' | b'*' if node_start => {
                    self.deepest.tied = true;
                    while at < bytes.len() && bytes[at] != b' ' {
                        at += 1;
                    }
                    previous = b' ';
                    continue;
                }
                b' ' | b'\t' => {}
                _ => node_start = false,
            }
            previous = b;
            at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(text: &str) -> usize {
        depth(text, usize::MAX).depth
    }

    #[test]
    fn block_and_flow_nesting_count_once_each() {
        assert_eq!(deep("a: 1\n"), 1);
        assert_eq!(deep("a:\n  b:\n    c: 1\n"), 3);
        assert_eq!(deep("a: {b: [1, {c: 2}]}\n"), 4);
        assert_eq!(deep("- - - x\n"), 4, "three sequences and their item");
        // Pretty-printed JSON: its indentation is inside a flow collection, not a second nesting
        // (the line the document starts on counts once: the estimate errs deep by one).
        assert_eq!(deep("{\n  \"a\": {\n    \"b\": [\n      1\n    ]\n  }\n}\n"), 4);
        // Sequences under a key at the key's own column are a level of their own.
        assert_eq!(deep("spec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 80\n"), 6);
        assert_eq!(deep("items:\n- a: 1\n  b:\n    c: 2\nother: 1\n"), 4);
    }

    #[test]
    fn brackets_in_scalars_comments_and_block_scalars_do_not_count() {
        let text = "a: 'x{[{['\nb: \"{{\\\"[[\"\nc: d{e[f  # {{{{\nscript: |\n  {{{{{{{{\n  [[[[[[\n\
                    e: it's {fine}\n--- |\n{{{{\n";
        assert_eq!(deep(text), 1, "{text}");
        // A quoted scalar that spans lines.
        assert_eq!(deep("a: \"{{\n  [[\"\nb: {c: 1}\n"), 2);
        assert_eq!(deep("a: '{{''\n  [['\nb: 1\n"), 1);
    }

    #[test]
    fn block_scalars_end_where_their_owner_does() {
        assert_eq!(deep("- script: |\n    {{{{\n  other: {a: {b: 1}}\n"), 4);
        assert_eq!(deep("- |\n  {{{{\n- x\n"), 2);
        assert_eq!(deep("a:\n  b: >-\n    [[[[\n  c: [1]\n"), 3);
    }

    #[test]
    fn anchors_and_tags_come_before_the_collection() {
        assert_eq!(deep("a: &x {b: {c: 1}}\nd: !!map {e: 1}\n"), 3);
        assert!(depth("a: &x 1\n", 10).tied && depth("a: *x\n", 10).tied);
        assert!(depth("a: !!str 1\n", 10).tied);
        assert!(!depth("a: 'x &y *z !t'\nb: c&d*e\nf: |\n  &g *h\n", 10).tied, "not in scalars");
        // The YAML parser takes a quoted scalar or a flow collection going on at the first column.
        assert!(depth("a: \"x\nitems: []\"\n", 10).tied && depth("a: [x,\nitems: 1]\n", 10).tied);
        assert!(!depth("a: \"x\n  y\"\nb: [1,\n  2]\n", 10).tied);
    }

    #[test]
    fn nested_flow_mappings_are_measured_and_the_scan_stops_early() {
        let text = "{a: ".repeat(1000);
        assert_eq!(deep(&text), 1001);
        let lines = format!("a: 1\n{}\n{}", "{b: ".repeat(MAX_DEPTH), "{c: ".repeat(100_000));
        assert_eq!(depth(&lines, MAX_DEPTH), Depth { depth: MAX_DEPTH + 1, line: 2, tied: false }, "not a third line");
        let block: String = (0..300).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert_eq!((depth(&block, MAX_DEPTH).depth, depth(&block, MAX_DEPTH).line), (MAX_DEPTH + 1, MAX_DEPTH + 1));
    }
}
