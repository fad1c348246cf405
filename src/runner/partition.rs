//! `--partition K/N`: a deterministic split of a run's cases into N shards, for CI jobs that
//! run one shard each (like cargo-nextest's `count:K/N`).
//!
//! The planned cases (case × target) are sorted by case id, then target name; the `i`-th of
//! them (0-based) belongs to shard `i mod N + 1`. The split depends only on the loaded
//! scenarios, the targets and the filters, never on `--jobs` or timing, so the N shards of
//! one set-up are disjoint and together cover exactly the cases of the unpartitioned run.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (both 1-based, `1 <= index <= count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    index: u32,
    count: u32,
}

/// A `--partition` value that is not `K/N` with `1 <= K <= N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partition {text:?}: {reason}; expected K/N with 1 <= K <= N, e.g. 1/4")]
pub struct PartitionError {
    text: String,
    reason: &'static str,
}

impl Partition {
    /// Shard `index` of `count`, if `1 <= index <= count`.
    pub fn new(index: u32, count: u32) -> Option<Partition> {
        (1..=count)
            .contains(&index)
            .then_some(Partition { index, count })
    }

    /// The 1-based shard number K.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The number of shards N.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the item at `position` (0-based, in the sorted order) belongs to this shard.
    pub fn contains(self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(text: &str) -> Result<Partition, PartitionError> {
        let error = |reason| PartitionError {
            text: text.to_owned(),
            reason,
        };
        let (index, count) = text.split_once('/').ok_or_else(|| error("no `/`"))?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| error("K is not a whole number"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| error("N is not a whole number"))?;
        if count == 0 {
            return Err(error("N is 0"));
        }
        Partition::new(index, count).ok_or_else(|| error("K is outside 1..=N"))
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_prints_it_back() {
        let partition: Partition = "2/5".parse().unwrap();
        assert_eq!((partition.index(), partition.count()), (2, 5));
        assert_eq!(partition.to_string(), "2/5");
    }

    #[test]
    fn refuses_zero_out_of_range_and_malformed_values() {
        for bad in [
            "0/3", "4/3", "1/0", "0/0", "3", "a/3", "1/b", "-1/3", "1/3/4", "",
        ] {
            let error = bad.parse::<Partition>().unwrap_err().to_string();
            assert!(error.contains("expected K/N"), "{bad}: {error}");
        }
    }

    #[test]
    fn every_position_belongs_to_exactly_one_shard() {
        let shards: Vec<Partition> = (1..=3).map(|k| Partition::new(k, 3).unwrap()).collect();
        for position in 0..10 {
            let owners = shards.iter().filter(|s| s.contains(position)).count();
            assert_eq!(owners, 1, "position {position}");
        }
    }
}
