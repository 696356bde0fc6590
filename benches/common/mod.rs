//! What the real-driver benches share: the C fixture drivers, built with the system C compiler.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `tests/fixtures/real_driver/<source>` optimized into `target/tmp/<out_dir>/`.
pub fn build_fixture(source: &str, out_dir: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(out_dir);
    std::fs::create_dir_all(&out_dir).expect("create the bench output directory");
    let out = out_dir.join(format!("lib{}.so", source.trim_end_matches(".c")));
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .args(["-std=c11", "-O2", "-shared", "-fPIC", "-I"])
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/fixtures/real_driver"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("tests/fixtures/real_driver").join(source))
        .arg("-lpthread")
        .status()
        .expect("run `cc` (install the Debian package `gcc`)");
    assert!(status.success(), "building {source} failed");
    out
}
