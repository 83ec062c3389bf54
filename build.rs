//! Generates FFI bindings for the parts of the C client API that `mysqlclient-sys`
//! does not cover for the installed library (MariaDB's `_start`/`_cont` family,
//! `mysql_get_socket`, `MYSQL_WAIT_*`, the client error codes) and emits cfgs for
//! the library flavour.
//!
//! Linking is left entirely to `mysqlclient-sys`, so this script prints no
//! `rustc-link-*` lines (no duplicates on the link line).
//!
//! cfgs emitted:
//! - `mca_mariadb`     MariaDB Connector/C headers
//! - `mca_oracle`      Oracle libmysqlclient headers
//! - `mca_nonblocking` the `_start`/`_cont` non-blocking API is declared

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str =
    "\n\nmysqlclient-async could not find the MySQL/MariaDB client headers (mysql.h).\n\
Install them with:\n\n    sudo apt-get install libmariadb-dev pkg-config clang libclang-dev\n\n\
or run `bash scripts/setup.sh` from the crate root (it installs every system package the\n\
crate needs). To use headers elsewhere, set MYSQLCLIENT_INCLUDE_DIR=/path/to/include/dir.\n";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mca_mariadb)");
    println!("cargo::rustc-check-cfg=cfg(mca_oracle)");
    println!("cargo::rustc-check-cfg=cfg(mca_nonblocking)");
    println!("cargo::rerun-if-changed=wrapper.h");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MYSQLCLIENT_INCLUDE_DIR");

    let include_dirs = find_include_dirs();
    let mysql_h = include_dirs
        .iter()
        .map(|d| d.join("mysql.h"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("mysql.h not found in {include_dirs:?}{INSTALL_HINT}"));
    for dir in &include_dirs {
        println!("cargo::rerun-if-changed={}", dir.join("mysql.h").display());
    }

    let header = std::fs::read_to_string(&mysql_h)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}{INSTALL_HINT}", mysql_h.display()));
    let mariadb =
        header.contains("MARIADB") || mysql_h.with_file_name("mariadb_version.h").is_file();
    println!(
        "cargo::rustc-cfg={}",
        if mariadb { "mca_mariadb" } else { "mca_oracle" }
    );
    if header.contains("mysql_real_connect_start") {
        println!("cargo::rustc-cfg=mca_nonblocking");
    }

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .allowlist_function("mysql_.*")
        .allowlist_function("mariadb_cancel")
        .allowlist_type("MYSQL.*")
        .allowlist_type("st_mysql.*")
        .allowlist_type("enum_field_types")
        .allowlist_type("mysql_option")
        .allowlist_var("MYSQL_WAIT_.*")
        .allowlist_var("CR_.*")
        .allowlist_var(".*_FLAG")
        .allowlist_var("SERVER_.*")
        .allowlist_var("CLIENT_.*")
        .allowlist_var("NOT_NULL_FLAG")
        .rustified_enum("enum_field_types")
        .constified_enum_module("mysql_option")
        .layout_tests(false)
        .generate_comments(false)
        .derive_default(false);
    for dir in &include_dirs {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on wrapper.h: {e}{INSTALL_HINT}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");
}

/// Include directories, in order of preference: an explicit override, pkg-config
/// (`libmariadb`, then `mysqlclient`), then `mariadb_config` / `mysql_config`.
fn find_include_dirs() -> Vec<PathBuf> {
    if let Ok(dir) = env::var("MYSQLCLIENT_INCLUDE_DIR") {
        return vec![PathBuf::from(dir)];
    }
    for name in ["libmariadb", "mysqlclient"] {
        // cargo_metadata(false): mysqlclient-sys owns the link lines.
        if let Ok(lib) = pkg_config::Config::new()
            .cargo_metadata(false)
            .env_metadata(false)
            .probe(name)
        {
            let dirs: Vec<PathBuf> = lib
                .include_paths
                .into_iter()
                .flat_map(|p| [p.join("mysql"), p])
                .filter(|p| has_mysql_h(p))
                .collect();
            if !dirs.is_empty() {
                return dirs;
            }
        }
    }
    for tool in ["mariadb_config", "mysql_config"] {
        if let Ok(out) = Command::new(tool).arg("--include").output() {
            if out.status.success() {
                let dirs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|s| s.strip_prefix("-I"))
                    .map(PathBuf::from)
                    .filter(|p| has_mysql_h(p))
                    .collect();
                if !dirs.is_empty() {
                    return dirs;
                }
            }
        }
    }
    for dir in ["/usr/include/mariadb", "/usr/include/mysql"] {
        if has_mysql_h(Path::new(dir)) {
            return vec![PathBuf::from(dir)];
        }
    }
    panic!("no MySQL/MariaDB client headers found{INSTALL_HINT}");
}

fn has_mysql_h(dir: &Path) -> bool {
    dir.join("mysql.h").is_file()
}
