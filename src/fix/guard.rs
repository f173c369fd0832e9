//! Where `fix` may write, decided before anything is analysed or written, for the command line and
//! the library alike: an output folder that holds an input, that lies inside an input folder, or
//! whose subfolders are symlinks back into the inputs would let a fix overwrite what it was given;
//! two inputs mapping to one output, or an output that already exists (without `force`), would lose
//! a file. Every destination is resolved through symlinks first.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::engine::Input;
use crate::report::escape;

/// Canonical form of a path that may not exist yet: the nearest existing ancestor, canonicalized,
/// plus the rest.
pub fn canonical_lenient(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Where outputs must never land: the named input folders and every input file, resolved (symlinks
/// followed), plus the folders that inputs were found in (a walked folder may be a symlink elsewhere).
pub struct InputGuard {
    trees: Vec<PathBuf>,
    files: HashSet<PathBuf>,
}

impl InputGuard {
    /// The guard for `inputs` (each with its output path relative to the output folder), found
    /// from the `named` paths, writing into `out_dir`. `Err` when `out_dir` holds an input, lies
    /// in an input folder, or any input's destination folder resolves into the inputs.
    pub fn new(
        named: &[PathBuf],
        inputs: &[(Input, PathBuf)],
        out_dir: &Path,
    ) -> Result<InputGuard, String> {
        let mut trees = Vec::new();
        for p in named.iter().filter(|p| p.is_dir()) {
            let c = p
                .canonicalize()
                .map_err(|e| format!("{}: cannot resolve the path: {e}", escape::path(p)))?;
            trees.push(c);
        }
        let mut files = HashSet::new();
        let out_real = canonical_lenient(out_dir);
        for (i, _) in inputs {
            // A dangling link cannot be resolved (nor overwritten): it is judged F001, never written.
            let Ok(c) = i.path.canonicalize() else {
                continue;
            };
            if c.starts_with(&out_real) {
                return Err(format!(
                    "the output folder {} contains the input {}: choose a folder outside the inputs, so an input can never be overwritten",
                    escape::path(out_dir),
                    escape::text(&i.display)
                ));
            }
            if !i.explicit
                && let Some(parent) = c.parent()
                && !trees.iter().any(|t| parent.starts_with(t))
            {
                trees.push(parent.to_path_buf());
            }
            files.insert(c);
        }
        let guard = InputGuard { trees, files };
        if let Some(tree) = guard.tree_holding(&out_real) {
            return Err(format!(
                "the output folder {} is inside the input folder {}: its outputs would be inputs of the next run; choose a folder outside the inputs",
                escape::path(out_dir),
                escape::path(tree)
            ));
        }
        // Every destination folder, resolved through any symlink in it.
        for (i, rel) in inputs {
            guard.check(&super::output_path(out_dir, rel, None), &i.display)?;
        }
        Ok(guard)
    }

    /// The input folder that holds `p` (already resolved), if any.
    fn tree_holding(&self, p: &Path) -> Option<&Path> {
        self.trees
            .iter()
            .find(|t| p.starts_with(t))
            .map(PathBuf::as_path)
    }

    /// Refuse a destination that, resolved, is an input file or lies in an input folder.
    pub fn check(&self, dest: &Path, input: &str) -> Result<(), String> {
        let resolved = canonical_lenient(dest);
        let why = if self.files.contains(&resolved) {
            "is an input file".to_string()
        } else if let Some(tree) = self.tree_holding(&resolved) {
            format!("lies inside the input folder {}", escape::path(tree))
        } else {
            return Ok(());
        };
        Err(format!(
            "the output for {} would be {}, which resolves to {} and {why} (a symlink in the output folder points into the inputs?): nothing was written; remove the link or choose another output folder",
            escape::text(input),
            escape::path(dest),
            escape::path(&resolved)
        ))
    }

    /// Refuse, before anything is written, destinations (input name, output path) that resolve into
    /// the inputs, that two inputs share, or that already exist unless `force` (or `dry_run`).
    pub fn check_all<'a>(
        &self,
        dests: impl IntoIterator<Item = (&'a str, PathBuf)>,
        force: bool,
        dry_run: bool,
    ) -> Result<(), String> {
        let mut seen: BTreeMap<PathBuf, &str> = BTreeMap::new();
        let mut existing = Vec::new();
        for (input, dest) in dests {
            self.check(&dest, input)?;
            if !force && !dry_run && std::fs::symlink_metadata(&dest).is_ok() {
                existing.push(escape::path(&dest).to_string());
            }
            if let Some(other) = seen.insert(dest.clone(), input) {
                return Err(format!(
                    "{} and {} would both be written to {}: fix them in separate runs or rename one",
                    escape::text(other),
                    escape::text(input),
                    escape::path(&dest)
                ));
            }
        }
        if !existing.is_empty() {
            return Err(format!(
                "{} output(s) already exist: {}; pass --force to overwrite them (nothing was written)",
                existing.len(),
                existing.join(", ")
            ));
        }
        Ok(())
    }
}
