//! How the release binary is linked on x86_64 Linux, where Rust links with its own `lld`:
//!
//! - The functions `link/symbol-order.txt` names (what start-up and the common requests run,
//!   recorded by `scripts/link-order.sh`) come first in `.text`, side by side. The kernel maps
//!   an executable's code 64 KiB around each page first run; scattered, that code keeps most of
//!   the 10 MB of `.text` resident, packed it keeps about 3 MB. Names the list has and the
//!   binary does not (a stale list) are skipped.
//! - Relative relocations are packed (`DT_RELR`, glibc 2.36+): 8 kB instead of 426 kB that the
//!   loader reads at every start.
//! - Symbols are stripped here rather than by the profile's `strip`, which would change every
//!   crate's symbol names; `STAGEDOOR_KEEP_SYMBOLS=1` keeps them for `scripts/link-order.sh`.
//!
//! `STAGEDOOR_PLAIN_LINK=1` turns all of this off (another linker, or to compare).

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=link/symbol-order.txt");
    println!("cargo:rerun-if-env-changed=STAGEDOOR_KEEP_SYMBOLS");
    println!("cargo:rerun-if-env-changed=STAGEDOOR_PLAIN_LINK");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let linux = var("CARGO_CFG_TARGET_OS") == "linux";
    let release = var("PROFILE") == "release";
    if !release || !linux {
        return;
    }
    let arg = |value: &str| println!("cargo:rustc-link-arg-bins={value}");
    if var("STAGEDOOR_KEEP_SYMBOLS").is_empty() {
        arg("-Wl,--strip-all");
    }
    if var("TARGET") != "x86_64-unknown-linux-gnu" || !var("STAGEDOOR_PLAIN_LINK").is_empty() {
        return;
    }
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("link/symbol-order.txt");
    arg(&format!("-Wl,--symbol-ordering-file={}", order.display()));
    arg("-Wl,--no-warn-symbol-ordering");
    arg("-Wl,-z,pack-relative-relocs");
}
