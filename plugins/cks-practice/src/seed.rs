//! Names, labels and ports drawn from a seed: the same seed gives the same run (a test, a class
//! practising together), another seed other names, so answers cannot be memorised.

/// splitmix64, salted with the scenario so two scenarios of one seed differ.
pub struct Rng(u64);

const WORDS: [&str; 32] = [
    "orion", "vega", "lyra", "draco", "cygnus", "perseus", "aquila", "hydra", "pavo", "corvus", "lupus", "volans",
    "carina", "auriga", "cetus", "fornax", "indus", "lepus", "mensa", "norma", "pictor", "pyxis", "sagitta", "tucana",
    "aries", "gemini", "libra", "taurus", "virgo", "ursa", "crux", "ara",
];

impl Rng {
    pub fn new(seed: u64, salt: &str) -> Self {
        let mut state = seed ^ 0x5eed_cafe_f00d_d00d;
        for b in salt.bytes() {
            state = state.rotate_left(7) ^ u64::from(b);
            state = state.wrapping_mul(0x100_0000_01b3);
        }
        Rng(state)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len() as u64) as usize]
    }

    /// A word that is not among `taken`.
    pub fn fresh_word(&mut self, taken: &[&str]) -> &'static str {
        loop {
            let word = self.word();
            if !taken.contains(&word) {
                return word;
            }
        }
    }

    /// An exam-style namespace name, `orion-g04`.
    pub fn namespace(&mut self) -> String {
        let letter = (b'a' + self.below(26) as u8) as char;
        format!("{}-{letter}{:02}", self.word(), self.below(100))
    }

    /// A TCP port in 1024..=9999, not `avoid`.
    pub fn port(&mut self, avoid: &[u16]) -> u16 {
        loop {
            let port = 1024 + self.below(9000) as u16;
            if !avoid.contains(&port) {
                return port;
            }
        }
    }
}

/// A seed when none was given: the clock's nanoseconds, kept short enough to type.
pub fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos % 100_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_names_other_seed_other_names() {
        let a: Vec<String> = (0..3).map(|_| Rng::new(7, "x").namespace()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut one = Rng::new(7, "x");
        let mut two = Rng::new(8, "x");
        let first: Vec<String> = (0..4).map(|_| one.namespace()).collect();
        let second: Vec<String> = (0..4).map(|_| two.namespace()).collect();
        assert_ne!(first, second);
        assert_ne!(Rng::new(7, "x").namespace(), Rng::new(7, "y").namespace(), "the salt separates scenarios");
    }

    #[test]
    fn ports_avoid_what_is_taken() {
        let mut rng = Rng::new(1, "p");
        for _ in 0..1000 {
            let port = rng.port(&[1024, 1025]);
            assert!((1026..=10023).contains(&port));
        }
    }
}
