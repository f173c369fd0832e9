//! Sharding: split one input set across several machines (or CI jobs) so that each checks a
//! deterministic, disjoint part and `merge` puts the reports back together.
//!
//! A file belongs to shard `K` of `N` when `FNV-1a(path relative to the folder it was found in) mod N
//! == K - 1`. The hash is stable across machines and runs (never std's randomly seeded hasher), and it
//! depends only on the relative path, so `check assets` on one machine and `check ./assets` on another
//! agree. `--shard auto` reads the index and count from the job scheduler's environment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stable_hash::fnv1a64;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Environment variables read by `--shard auto`, in order: (index, count, index base, scheduler).
const AUTO: &[(&str, &str, u32, &str)] = &[
    (
        "JOB_COMPLETION_INDEX",
        "JOB_COMPLETIONS",
        0,
        "Kubernetes Indexed Job",
    ),
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1, "GitLab CI parallel"),
    (
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        0,
        "Slurm job array",
    ),
];

impl Shard {
    /// Parse `K/N` (1 ≤ K ≤ N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("--shard {s}: expected K/N with 1 ≤ K ≤ N (e.g. --shard 2/8) or `auto`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard named by the scheduler's environment (`var` looks a variable up, for tests).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        for (index_var, count_var, base, scheduler) in AUTO {
            let Some(index) = var(index_var) else {
                continue;
            };
            let Some(count) = var(count_var) else {
                return Err(format!(
                    "--shard auto: {index_var}={index} is set ({scheduler}) but {count_var} is not; \
                     pass it into the job's environment (for a Kubernetes Indexed Job: \
                     env: [{{name: {count_var}, value: \"<spec.completions>\"}}])"
                ));
            };
            let parsed = (index.trim().parse::<u32>(), count.trim().parse::<u32>());
            let (Ok(i), Ok(n)) = parsed else {
                return Err(format!(
                    "--shard auto: {index_var}={index} and {count_var}={count} must be whole numbers"
                ));
            };
            let base = *base;
            if n == 0 || i < base || i + 1 - base > n {
                return Err(format!(
                    "--shard auto: {index_var}={index} is out of range for {count_var}={count} ({scheduler}, index starts at {base})"
                ));
            }
            return Ok(Shard {
                index: i + 1 - base,
                count: n,
            });
        }
        Err("--shard auto: no scheduler variables are set; expected JOB_COMPLETION_INDEX + JOB_COMPLETIONS \
             (Kubernetes Indexed Job), CI_NODE_INDEX + CI_NODE_TOTAL (GitLab CI), or \
             SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT (Slurm); or give --shard K/N"
            .into())
    }

    /// `K/N` or `auto` (from the process environment).
    pub fn from_arg(s: &str) -> Result<Shard, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            Shard::from_env(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        } else {
            Shard::parse(s)
        }
    }

    /// Whether the file at `rel` (relative to its root, `/`-separated) belongs to this shard.
    pub fn contains(&self, rel: &str) -> bool {
        fnv1a64(rel.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn parse_k_of_n() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(Shard::parse(" 1 / 1 "), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/2", "3/2", "1/0", "a/b", "2", "", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_any_set() {
        let paths: Vec<String> = (0..500).map(|i| format!("clips/take_{i}.mp4")).collect();
        for n in 1..=7 {
            let mut seen = vec![0u32; paths.len()];
            for k in 1..=n {
                let s = Shard { index: k, count: n };
                for (i, p) in paths.iter().enumerate() {
                    if s.contains(p) {
                        seen[i] += 1;
                    }
                }
            }
            assert!(
                seen.iter().all(|&c| c == 1),
                "N={n}: every file in exactly one shard"
            );
        }
        // Stable across machines: a fixed path always lands in the same shard.
        let s = Shard { index: 1, count: 2 };
        assert_eq!(s.contains("a.mp4"), fnv1a64(b"a.mp4").is_multiple_of(2));
    }

    #[test]
    fn auto_reads_schedulers_in_order() {
        let k8s = env(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("JOB_COMPLETIONS", "4"),
            ("CI_NODE_INDEX", "3"),
            ("CI_NODE_TOTAL", "3"),
        ]);
        assert_eq!(Shard::from_env(k8s), Ok(Shard { index: 1, count: 4 }));
        let gitlab = env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")]);
        assert_eq!(Shard::from_env(gitlab), Ok(Shard { index: 3, count: 3 }));
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "6"),
        ]);
        assert_eq!(Shard::from_env(slurm), Ok(Shard { index: 6, count: 6 }));
        let none = Shard::from_env(env(&[])).unwrap_err();
        assert!(none.contains("no scheduler variables"), "{none}");
        let half = Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")])).unwrap_err();
        assert!(half.contains("JOB_COMPLETIONS is not"), "{half}");
        let out = Shard::from_env(env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")]));
        assert!(out.is_err(), "GitLab's index is 1-based");
    }
}
