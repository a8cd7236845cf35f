//! Embeds `migrations/sqlite/*.sql` and `migrations/postgres/*.sql` into the crate, and refuses to build when the
//! two folders do not hold the same file names (ARCHITECTURE.md §2: the same file name for the same change).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn sql_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let root = manifest.join("../../migrations");
    let sqlite = sql_files(&root.join("sqlite"));
    let postgres = sql_files(&root.join("postgres"));
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must hold the same file names");

    let mut out = String::from("/// (version, description, sqlite sql, postgres sql), in order.\n");
    out.push_str("pub(crate) const MIGRATIONS: &[(i64, &str, &str, &str)] = &[\n");
    for name in &sqlite {
        let stem = name.trim_end_matches(".sql");
        let (version, description) = stem.split_once('_').unwrap_or_else(|| panic!("{name}: expected NNNN_name.sql"));
        let version: i64 = version.parse().unwrap_or_else(|_| panic!("{name}: version must be a number"));
        let s = root.join("sqlite").join(name).canonicalize().unwrap_or_else(|e| panic!("{name}: {e}"));
        let p = root.join("postgres").join(name).canonicalize().unwrap_or_else(|e| panic!("{name}: {e}"));
        let first = fs::read_to_string(&s).unwrap_or_default();
        assert!(first.starts_with("-- "), "{name}: a migration starts with a comment saying why");
        let _ = writeln!(
            out,
            "    ({version}, {description:?}, include_str!({:?}), include_str!({:?})),",
            s.display().to_string(),
            p.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("migrations.rs");
    fs::write(dest, out).unwrap_or_else(|e| panic!("writing migrations.rs: {e}"));
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
