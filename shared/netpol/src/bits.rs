//! A fixed-size bit set over group indices: the matrix works on sets of groups, not on pods.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    pub fn empty(len: usize) -> Self {
        Bits { words: vec![0; len.div_ceil(64)], len }
    }

    pub fn full(len: usize) -> Self {
        let mut bits = Bits { words: vec![u64::MAX; len.div_ceil(64)], len };
        if !len.is_multiple_of(64)
            && let Some(last) = bits.words.last_mut()
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        bits
    }

    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn union_with(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// `self |= a & b`.
    pub fn union_with_and(&mut self, a: &Bits, b: &Bits) {
        for ((out, x), y) in self.words.iter_mut().zip(&a.words).zip(&b.words) {
            *out |= x & y;
        }
    }

    /// `self &= other`.
    pub fn intersect_with(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// `self &= !other`.
    pub fn remove_all(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// `self |= a & b & c`.
    pub fn union_with_and3(&mut self, a: &Bits, b: &Bits, c: &Bits) {
        for (((out, x), y), z) in self.words.iter_mut().zip(&a.words).zip(&b.words).zip(&c.words) {
            *out |= x & y & z;
        }
    }

    /// `self |= a & !b`.
    pub fn union_with_and_not(&mut self, a: &Bits, b: &Bits) {
        for ((out, x), y) in self.words.iter_mut().zip(&a.words).zip(&b.words) {
            *out |= x & !y;
        }
    }

    /// The set bits, in order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                (word != 0).then(|| {
                    let bit = word.trailing_zeros() as usize;
                    word &= word - 1;
                    i * 64 + bit
                })
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Whether `self & other` has any bit.
    pub fn intersects(&self, other: &Bits) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// The words, bit `i` of the set being bit `i % 64` of word `i / 64`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }
}

/// Transposes a 64 x 64 bit matrix in place: bit `j` of `a[i]` becomes bit `i` of `a[j]`. Six
/// rounds of swapping blocks (halves, quarters, ...) instead of 4,096 single-bit moves.
pub(crate) fn transpose64(a: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_ffff_ffff;
    while width != 0 {
        for k in 0..64 {
            if k & width == 0 {
                let swap = ((a[k] >> width) ^ a[k | width]) & mask;
                a[k] ^= swap << width;
                a[k | width] ^= swap;
            }
        }
        width >>= 1;
        mask ^= mask << width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_union_and_iterate() {
        let mut a = Bits::empty(130);
        a.set(0);
        a.set(129);
        let mut b = Bits::empty(130);
        b.set(64);
        assert!(a.get(129) && !a.get(64));
        a.union_with(&b);
        assert!(a.get(0) && a.get(64) && a.get(129) && !a.get(1));
        let full = Bits::full(130);
        assert!((0..130).all(|i| full.get(i)));
        assert_eq!(full.words[2], 0b11, "bits past the end stay clear");
        let mut c = Bits::empty(130);
        c.union_with_and(&a, &b);
        assert!(c.get(64) && !c.get(0) && !c.get(129));
        let mut d = a.clone();
        d.remove_all(&b);
        assert!(d.get(0) && !d.get(64) && d.get(129));
        d.intersect_with(&full);
        assert!(d.get(0) && d.intersects(&a) && !d.intersects(&b));
        let mut e = Bits::empty(130);
        e.union_with_and_not(&full, &a);
        assert!(!e.get(0) && e.get(1) && !e.get(64) && !e.get(129));
        let mut f = Bits::empty(130);
        f.union_with_and3(&full, &a, &b);
        assert_eq!(f, b);
        assert!(Bits::empty(130).is_empty() && !f.is_empty());
        assert_eq!(a.ones().collect::<Vec<_>>(), [0, 64, 129]);
        assert_eq!(Bits::full(130).ones().count(), 130);
    }

    #[test]
    fn transpose64_moves_every_bit_to_its_mirror() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut a = [0u64; 64];
        for word in &mut a {
            // xorshift: any pattern will do, as long as it is not symmetric.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *word = state;
        }
        let before = a;
        transpose64(&mut a);
        for (i, row) in before.iter().enumerate() {
            for (j, column) in a.iter().enumerate() {
                assert_eq!(column >> i & 1, row >> j & 1, "bit {j} of row {i}");
            }
        }
        transpose64(&mut a);
        assert_eq!(a, before, "twice is the identity");
    }
}
