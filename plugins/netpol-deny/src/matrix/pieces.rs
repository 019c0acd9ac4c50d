//! Output made of a few repeated texts, copied in fixed-size blocks.
//!
//! A CSV of every pair is tens of millions of lines, each three short texts (the row's prefix, the
//! column and the cell). Copied with `extend_from_slice`, each text is a length check and a call to
//! `memcpy` for a length the CPU cannot predict, and at 10,000 pods those calls were half the
//! command's time. A [`Piece`] keeps its text padded to whole 32-byte blocks, so a copy is one or two
//! fixed-size moves into a [`Lines`] buffer with room for the padding; only the length moves
//! the end of the output, so the padding is overwritten by the next piece or never written out.

use std::sync::mpsc;

use harden_cli::output::{Escaped, Out};

const BLOCK: usize = 32;

/// About how much output a worker makes before it is written (see [`write_rows`]): the matrix's
/// chunk.
const CHUNK_BYTES: usize = super::CHUNK;

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

    /// Appends a line built whole. The bytes must hold no control character but the line end:
    /// they are written past the output's scan, as pieces are (the caller checked its texts).
    pub fn push_clean(&mut self, bytes: &[u8]) {
        if self.end + bytes.len() > self.buffer.len() {
            self.buffer.resize(self.end + bytes.len(), 0);
        }
        self.buffer[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
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

    /// Lines over a buffer used before: what it holds is overwritten, never read.
    fn reusing(buffer: Vec<u8>) -> Self {
        Lines { buffer, end: 0, chunk: usize::MAX }
    }
}

/// Writes `rows` rows, each made by `row` into a [`Lines`], in order. The rows are made in blocks
/// of about a chunk on up to four threads while this thread writes the finished blocks: at 10,000
/// pods a CSV is a gigabyte, and making its lines was a fifth of the command's time.
///
/// Memory stays bounded: each worker has at most two finished blocks waiting, and the written
/// buffers go back to the worker to be filled again.
pub fn write_rows(
    out: &mut dyn Out,
    rows: usize,
    row_bytes: usize,
    row: &(dyn Fn(usize, &mut Lines) + Sync),
) -> std::io::Result<()> {
    let per_block = (CHUNK_BYTES / row_bytes.max(1)).max(1);
    let blocks = rows.div_ceil(per_block);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(blocks);
    if workers < 2 {
        let mut lines = Lines::new(CHUNK_BYTES);
        for r in 0..rows {
            row(r, &mut lines);
            lines.line_done(out)?;
        }
        return lines.finish(out);
    }
    std::thread::scope(|scope| {
        let mut finished = Vec::with_capacity(workers);
        let mut returned = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (done, finished_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(2);
            let (back, back_rx) = mpsc::channel::<Vec<u8>>();
            finished.push(finished_rx);
            returned.push(back);
            scope.spawn(move || {
                for block in (worker..blocks).step_by(workers) {
                    let buffer = back_rx.try_recv().unwrap_or_default();
                    let mut lines = Lines::reusing(buffer);
                    for r in block * per_block..rows.min((block + 1) * per_block) {
                        row(r, &mut lines);
                    }
                    // The writer has gone (a write failed): stop.
                    if done.send((lines.buffer, lines.end)).is_err() {
                        return;
                    }
                }
            });
        }
        for block in 0..blocks {
            let worker = block % workers;
            let Ok((buffer, end)) = finished[worker].recv() else {
                // A worker that stopped early panicked; the scope passes its panic on.
                break;
            };
            out.write_escaped(&buffer[..end])?;
            let _ = returned[worker].send(buffer);
        }
        Ok(())
    })
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

    /// Rows made on several threads come out in order, whatever the block size, and the same as
    /// made on one.
    #[test]
    fn rows_made_on_threads_come_out_in_order() {
        let labels: Vec<Piece> = (0..300).map(|r| Piece::new(&Escaped::new(&format!("row-{r},")))).collect();
        let cells: Vec<Piece> = (0..7).map(|c| Piece::new(&Escaped::new(&format!("cell-{c}\n")))).collect();
        let row = |r: usize, lines: &mut Lines| {
            for cell in &cells[..=(r % 7)] {
                lines.push(&labels[r]);
                lines.push(cell);
            }
        };
        let mut expected = String::new();
        for r in 0..300 {
            for c in 0..=(r % 7) {
                expected.push_str(&format!("row-{r},cell-{c}\n"));
            }
        }
        for row_bytes in [1, 100, CHUNK_BYTES / 3, CHUNK_BYTES * 2] {
            let mut out: Vec<u8> = Vec::new();
            write_rows(&mut out, 300, row_bytes, &row).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "row_bytes {row_bytes}");
        }
        let mut none: Vec<u8> = Vec::new();
        write_rows(&mut none, 0, 10, &row).unwrap();
        assert!(none.is_empty());
    }
}
