//! A list as kubectl writes it (`kubectl get pods -A -o yaml`: one document, a top-level mapping
//! whose `items:` is a block sequence) cut into the text of each item, so that each is parsed on
//! its own. The YAML parser holds a whole document's events in memory (about 15 times its text),
//! so a 100 MB list would otherwise cost gigabytes; item by item it costs the largest item.
//!
//! Only the plainest shape is cut, and only where cutting cannot change what the text means: one
//! document, no anchors, aliases or tags anywhere (they tie parts of a document together), `items:`
//! at the top level followed by `- ` entries that every other line of the list is indented under.
//! Anything else, and any text the parser refuses, is read whole by the caller, which then also
//! reports errors with the line the whole text has.

use std::ops::Range;

/// A list cut in parts: the rest of the document (with `items: []`), and each item's lines.
pub struct Cut<'a> {
    text: &'a str,
    /// Byte ranges of the lines, without their line breaks.
    lines: Vec<Range<usize>>,
    /// Line ranges of the items (the first line of each starts with `- ` at `column`).
    pub items: Vec<Range<usize>>,
    column: usize,
    items_line: usize,
    end: usize,
}

/// YAML's printable characters (`c-printable`), line breaks included.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

fn indent(line: &str) -> usize {
    line.bytes().take_while(|&b| b == b' ').count()
}

fn blank_or_comment(line: &str) -> bool {
    let rest = line.trim_start_matches(' ');
    rest.is_empty() || rest.starts_with('#')
}

fn entry(line: &str, column: usize) -> bool {
    indent(line) == column && (line[column..] == *"-" || line[column..].starts_with("- "))
}

/// Cuts `text` (see the module docs); `None` when it is not that plain. `tied` is whether parts of
/// the text are tied together ([`crate::scan::Depth::tied`]).
pub fn cut(text: &str, tied: bool) -> Option<Cut<'_>> {
    // Tabs, line breaks other than LF and CRLF (the parser also breaks at a lone CR, NEL, LS and
    // PS), and what YAML does not print (refused by the parser even in a comment the cut would
    // leave out): read whole.
    let lone_cr = text.match_indices('\r').any(|(i, _)| !text[i + 1..].starts_with('\n'));
    if tied || lone_cr || text.chars().any(|c| matches!(c, '\t' | '\u{85}' | '\u{2028}' | '\u{2029}') || !printable(c))
    {
        return None;
    }
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.len();
        let trimmed = if line.ends_with('\r') { end - 1 } else { end };
        lines.push(start..trimmed);
        start = end + 1;
    }
    if text.ends_with('\n') {
        lines.pop();
    }
    let line = |i: usize| &text[lines[i].clone()];
    // One document: a `---` only as the first line, no `...` end marker.
    for i in 0..lines.len() {
        let l = line(i);
        let marker = |m: &str| l.starts_with(m) && l[3..].chars().next().is_none_or(|c| c == ' ');
        if (marker("---") && i > 0) || marker("...") || (marker("---") && l.trim_end() != "---") {
            return None;
        }
    }
    let items_line = (0..lines.len()).find(|&i| {
        let l = line(i);
        l.strip_prefix("items:").is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
    })?;
    let first = (items_line + 1..lines.len()).find(|&i| !blank_or_comment(line(i)))?;
    let column = indent(line(first));
    if !entry(line(first), column) {
        return None;
    }
    let mut items: Vec<Range<usize>> = Vec::new();
    let mut end = lines.len();
    // A comment less indented than the items' content, which only fits between items.
    let mut low_comment = false;
    for i in first..lines.len() {
        let l = line(i);
        if blank_or_comment(l) {
            low_comment |= !l.trim().is_empty() && indent(l) < column + 2;
            continue;
        }
        if entry(l, column) {
            if let Some(last) = items.last_mut() {
                last.end = i;
            }
            items.push(i..lines.len());
            low_comment = false;
        } else if low_comment && indent(l) >= column + 2 {
            // Content after it would be read into the item it interrupted.
            return None;
        } else if indent(l) < column + 2 {
            if indent(l) > 0 {
                // Neither an entry nor under one, nor the top level again: not the plain shape.
                return None;
            }
            end = i;
            break;
        }
    }
    if let Some(last) = items.last_mut() {
        last.end = end;
    }
    // The top-level lines before `items:` and after the list must be at column 0 or under a key of
    // their own; `items` must not come twice (the parser of the whole refuses it).
    if (end..lines.len()).any(|i| line(i).starts_with("items:")) {
        return None;
    }
    Some(Cut { text, lines, items, column, items_line, end })
}

impl Cut<'_> {
    /// The document without its items: `items: []` in their place.
    pub fn head(&self) -> String {
        let mut out = String::new();
        for (i, range) in self.lines.iter().enumerate() {
            if i == self.items_line {
                out.push_str("items: []\n");
            } else if i < self.items_line || i >= self.end {
                out.push_str(&self.text[range.clone()]);
                out.push('\n');
            }
        }
        out
    }

    /// One item's text as a document of its own: the `- ` becomes spaces, and every line loses
    /// the indentation of the item's content. Comments less indented than that (between items)
    /// are left out: they cannot be inside the item.
    pub fn item(&self, lines: &Range<usize>) -> String {
        let strip = self.column + 2;
        let mut out = String::new();
        for i in lines.clone() {
            let line = &self.text[self.lines[i].clone()];
            if i == lines.start {
                out.push_str(line.get(strip..).unwrap_or_default());
            } else if indent(line) >= strip {
                out.push_str(&line[strip..]);
            }
            // Otherwise a blank line, or a comment after the item's content (see `cut`).
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_lists_are_cut_into_items() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n# between\n\
                    - apiVersion: v1\n  kind: Pod\n  data: |\n    - not an item\n    # not a comment\nkind: List\nmetadata: {}\n";
        let cut = cut(text, false).unwrap();
        assert_eq!(cut.items.len(), 2);
        assert_eq!(cut.item(&cut.items[0]), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n\n");
        assert_eq!(cut.item(&cut.items[1]), "apiVersion: v1\nkind: Pod\ndata: |\n  - not an item\n  # not a comment\n");
        assert_eq!(cut.head(), "apiVersion: v1\nitems: []\nkind: List\nmetadata: {}\n");
        // Items indented under the key.
        let cut2 = super::cut("items:\n  - a: 1\n    b: 2\n  - c\nkind: List\n", false).unwrap();
        assert_eq!(cut2.items.len(), 2);
        assert_eq!(cut2.item(&cut2.items[0]), "a: 1\nb: 2\n");
    }

    #[test]
    fn other_shapes_are_left_whole() {
        assert!(cut("items:\n- &a {x: 1}\n- *a\n", true).is_none(), "anchors tie items together");
        assert!(cut("a: 1\n---\nitems:\n- x\n", false).is_none(), "several documents");
        assert!(cut("items: [a, b]\n", false).is_none(), "a flow sequence");
        assert!(cut("items:\n- a: 1\n b: 2\n", false).is_none(), "a line under neither");
        assert!(cut("items:\n- a\nitems:\n- b\n", false).is_none(), "items twice");
        assert!(cut("kind: Pod\nmetadata: {name: a}\n", false).is_none(), "no items");
        assert!(cut("items:\n- a: |\n    x\n# c\n    y\n", false).is_none(), "a comment inside an item");
        assert!(cut("items:\n- a\n# \u{7}\n- b\n", false).is_none(), "what the parser refuses");
        assert!(cut("items:\n- a: 1\r  b: 2\n", false).is_none(), "a lone CR breaks the line");
        assert!(cut("items:\r\n- a: 1\r\n- b\r\n", false).is_some(), "CRLF is a line break");
    }
}
