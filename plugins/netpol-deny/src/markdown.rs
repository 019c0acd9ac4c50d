//! Markdown output shared by the commands that print tables as Markdown (matrix, exposure).

/// Text for a Markdown table cell: `|` would end the cell, and a leading character could start
/// markup; escaped as GitHub reads them.
pub fn md_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '|' | '\\' | '*' | '_' | '`' | '<' | '>' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
