//! Output made of a few repeated texts, copied in fixed-size blocks.
//!
//! A CSV of every pair is tens of millions of lines, each three short texts (the row's prefix, the
//! column and the cell). Copied with `extend_from_slice`, each text is a length check and a call to
//! `memcpy` for a length the CPU cannot predict, and at 10,000 pods those calls were half the
//! command's time. A [`Piece`] keeps its text padded to whole 32-byte blocks, so a copy is one or two
//! fixed-size moves into a [`Lines`] buffer with room for the padding; only the length moves
//! the end of the output, so the padding is overwritten by the next piece or never written out.

use harden_cli::output::{Escaped, Out};

const BLOCK: usize = 32;

/// An escaped text stored in whole blocks, zero-padded after its end. Only [`Escaped`] text is
/// taken, so the lines are written past the output's scan for control characters.
pub struct Piece {
    blocks: Box<[[u8; BLOCK]]>,
    len: usize,
}

impl Piece {
    pub fn new(text: &Escaped) -> Self {
        let text = text.as_bytes();
        let mut blocks = vec![[0u8; BLOCK]; text.len().div_ceil(BLOCK).max(1)].into_boxed_slice();
        for (block, chunk) in blocks.iter_mut().zip(text.chunks(BLOCK)) {
            block[..chunk.len()].copy_from_slice(chunk);
        }
        Piece { blocks, len: text.len() }
    }

    /// The bytes [`Lines::push`] writes, padding included.
    fn padded_len(&self) -> usize {
        self.blocks.len() * BLOCK
    }
}

/// An output buffer written a line of pieces at a time and flushed when it holds `chunk` bytes.
pub struct Lines {
    buffer: Vec<u8>,
    end: usize,
    chunk: usize,
}

impl Lines {
    pub fn new(chunk: usize) -> Self {
        Lines { buffer: vec![0; chunk + 8 * BLOCK], end: 0, chunk }
    }

    /// Appends the piece; call [`Lines::line_done`] after each line.
    #[inline]
    pub fn push(&mut self, piece: &Piece) {
        if self.end + piece.padded_len() > self.buffer.len() {
            self.buffer.resize(self.end + piece.padded_len(), 0);
        }
        let mut at = self.end;
        for block in piece.blocks.iter() {
            self.buffer[at..at + BLOCK].copy_from_slice(block);
            at += BLOCK;
        }
        self.end += piece.len;
    }

    /// Writes the buffer out once it holds a chunk.
    #[inline]
    pub fn line_done(&mut self, out: &mut dyn Out) -> std::io::Result<()> {
        if self.end >= self.chunk {
            out.write_escaped(&self.buffer[..self.end])?;
            self.end = 0;
        }
        Ok(())
    }

    /// Writes what is left.
    pub fn finish(mut self, out: &mut dyn Out) -> std::io::Result<()> {
        out.write_escaped(&self.buffer[..self.end])?;
        self.end = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of every length around the block size, empty ones included, in many orders and with a
    /// chunk small enough to flush mid-stream: the output is exactly their concatenation.
    #[test]
    fn lines_of_pieces_are_the_texts_joined() {
        let texts: Vec<String> =
            (0..=3 * BLOCK + 1).map(|n| (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()).collect();
        let pieces: Vec<Piece> = texts.iter().map(|t| Piece::new(&Escaped::new(t))).collect();
        for chunk in [1, 7, 64, 1 << 20] {
            let newline = [Piece::new(&Escaped::new("\n"))];
            let mut lines = Lines::new(chunk);
            let mut out: Vec<u8> = Vec::new();
            let mut expected = Vec::new();
            for i in 0..pieces.len() {
                for j in [i, (i * 7 + 3) % pieces.len(), pieces.len() - 1 - i] {
                    lines.push(&pieces[j]);
                    expected.extend_from_slice(texts[j].as_bytes());
                }
                lines.push(&newline[0]);
                expected.push(b'\n');
                lines.line_done(&mut out).unwrap();
            }
            lines.finish(&mut out).unwrap();
            assert_eq!(out, expected, "chunk {chunk}");
        }
    }
}
