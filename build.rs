//! Picks the backend for the installed client library and generates the FFI
//! bindings for it.
//!
//! Linking is left entirely to `mysqlclient-sys` (the system library, or with the
//! `bundled` feature Oracle's client built from source), so this script prints no
//! `rustc-link-*` lines.
//!
//! Bindings: bindgen on `wrapper.h` against the installed headers, which gives the
//! struct layouts of the library actually linked plus the non-blocking API that
//! `mysqlclient-sys` may lack. Two builds use the `-sys` crate's own pregenerated
//! bindings instead and need neither headers nor libclang: `bundled` (the headers
//! live inside the `-sys` crate's build) and docs.rs (`DOCS_RS` set).
//!
//! cfgs emitted:
//! - `mca_backend = "mariadb" | "oracle" | "portable"`: which non-blocking API the
//!   crate drives (see `src/raw/mod.rs`).
//! - `mca_mariadb` / `mca_oracle`: the library flavour (option and TLS differences).
//! - `mca_escape_quote`: `mysql_real_escape_string_quote` is declared.
//! - `mca_reset_nonblocking`: Oracle's `mysql_reset_connection_nonblocking` (8.4+).
//! - `mca_sys_bindings`: the `-sys` crate's bindings are used.
//!
//! `MYSQLCLIENT_ASYNC_BACKEND=portable` forces the portable backend and hides every
//! non-blocking function from the generated bindings, which proves that backend
//! builds against a library without them.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str =
    "\n\nmysqlclient-async could not find the MySQL/MariaDB client headers (mysql.h).\n\
Install them with:\n\n    sudo apt-get install libmariadb-dev pkg-config clang libclang-dev\n\n\
or run `bash scripts/setup.sh` from the crate root (it installs every system package the\n\
crate needs). To use headers elsewhere, set MYSQLCLIENT_INCLUDE_DIR=/path/to/include/dir.\n\
To build Oracle's client from source instead, enable the `bundled` feature (needs cmake).\n";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    MariaDb,
    Oracle,
    Portable,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::MariaDb => "mariadb",
            Backend::Oracle => "oracle",
            Backend::Portable => "portable",
        }
    }
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mca_mariadb)");
    println!("cargo::rustc-check-cfg=cfg(mca_oracle)");
    println!("cargo::rustc-check-cfg=cfg(mca_escape_quote)");
    println!("cargo::rustc-check-cfg=cfg(mca_sys_bindings)");
    println!("cargo::rustc-check-cfg=cfg(mca_reset_nonblocking)");
    println!(
        "cargo::rustc-check-cfg=cfg(mca_backend, values(\"mariadb\", \"oracle\", \"portable\"))"
    );
    println!("cargo::rerun-if-changed=wrapper.h");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MYSQLCLIENT_INCLUDE_DIR");
    println!("cargo::rerun-if-env-changed=MYSQLCLIENT_ASYNC_BACKEND");
    println!("cargo::rerun-if-env-changed=DOCS_RS");

    let forced = match env::var("MYSQLCLIENT_ASYNC_BACKEND").ok().as_deref() {
        None | Some("") | Some("auto") => None,
        Some("portable") => Some(Backend::Portable),
        Some(other) => panic!(
            "MYSQLCLIENT_ASYNC_BACKEND={other}: the only value that can be forced is `portable` \
             (the others follow from the installed library)"
        ),
    };
    let bundled = env::var_os("CARGO_FEATURE_BUNDLED").is_some();
    let docs = env::var_os("DOCS_RS").is_some();

    if bundled || docs {
        // Oracle's client 9.x from source (bundled), or whatever docs.rs has: the
        // `-sys` crate's pregenerated bindings. docs.rs documents the portable
        // backend, whose public API is the same as every other backend's; its
        // flavour follows the headers if there are any (Oracle's otherwise, as on
        // docs.rs's image).
        let mut flavour = "mca_oracle";
        let mut quote = true;
        if docs && !bundled {
            if let Some(header) = try_find_include_dirs().and_then(|d| read_mysql_h(&d)) {
                if is_mariadb(&header) {
                    flavour = "mca_mariadb";
                }
                quote = header.1.contains("mysql_real_escape_string_quote");
            }
        }
        let backend = if docs {
            Backend::Portable
        } else {
            forced.unwrap_or(Backend::Oracle)
        };
        println!("cargo::rustc-cfg=mca_sys_bindings");
        println!("cargo::rustc-cfg={flavour}");
        if bundled {
            println!("cargo::rustc-cfg=mca_reset_nonblocking");
        }
        if quote {
            println!("cargo::rustc-cfg=mca_escape_quote");
        }
        emit_backend(
            backend,
            "the bundled Oracle client",
            forced.is_some() || docs,
        );
        return;
    }

    let include_dirs = try_find_include_dirs()
        .unwrap_or_else(|| panic!("no MySQL/MariaDB client headers found{INSTALL_HINT}"));
    for dir in &include_dirs {
        println!("cargo::rerun-if-changed={}", dir.join("mysql.h").display());
    }
    let Some(found) = read_mysql_h(&include_dirs) else {
        panic!("mysql.h not found or unreadable in {include_dirs:?}{INSTALL_HINT}");
    };
    let mariadb = is_mariadb(&found);
    let (mysql_h, header) = found;
    println!(
        "cargo::rustc-cfg={}",
        if mariadb { "mca_mariadb" } else { "mca_oracle" }
    );

    // What the headers declare decides the backend. Oracle's non-blocking API
    // needs its result-reading half (8.0.16+: fetch_row and next_result too).
    let has = |f: &str| header.contains(f);
    let detected = if has("mysql_real_connect_start") && has("mysql_read_query_result_start") {
        Backend::MariaDb
    } else if has("mysql_real_connect_nonblocking")
        && has("mysql_send_query_nonblocking")
        && has("mysql_real_query_nonblocking")
        && has("mysql_fetch_row_nonblocking")
        && has("mysql_next_result_nonblocking")
        && has("mysql_get_connect_nonblocking_stage")
    {
        Backend::Oracle
    } else {
        Backend::Portable
    };
    let backend = forced.unwrap_or(detected);
    if has("mysql_reset_connection_nonblocking") {
        println!("cargo::rustc-cfg=mca_reset_nonblocking");
    }
    if has("mysql_real_escape_string_quote") {
        println!("cargo::rustc-cfg=mca_escape_quote");
    }
    emit_backend(backend, &mysql_h.display().to_string(), forced.is_some());

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .allowlist_function("mysql_.*")
        .allowlist_type("MYSQL.*")
        .allowlist_type("st_mysql.*")
        .allowlist_type("enum_field_types")
        .allowlist_type("mysql_option")
        .allowlist_type("net_async_status")
        .allowlist_type("connect_stage")
        .allowlist_var("MYSQL_WAIT_.*")
        .allowlist_var("CR_.*")
        .allowlist_var(".*_FLAG")
        .allowlist_var("SERVER_.*")
        .allowlist_var("CLIENT_.*")
        // The same enum style as the `-sys` crate's bindings, so that the crate
        // compiles against either.
        .default_enum_style(bindgen::EnumVariation::Rust {
            non_exhaustive: true,
        })
        .layout_tests(false)
        .generate_comments(false)
        .derive_default(false);
    if backend == Backend::Portable {
        // Hide the non-blocking API: the portable backend must not need it.
        builder = builder
            .blocklist_function(".*_start")
            .blocklist_function(".*_cont")
            .blocklist_function(".*_nonblocking")
            .blocklist_function(".*_nonblocking_stage")
            .blocklist_function("mysql_get_timeout_value.*");
    }
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

fn emit_backend(backend: Backend, library: &str, forced: bool) {
    println!("cargo::rustc-cfg=mca_backend=\"{}\"", backend.name());
    if backend == Backend::Portable && !forced {
        println!(
            "cargo::warning=mysqlclient-async: {library} declares no non-blocking API \
             (neither MariaDB's _start/_cont nor Oracle's _nonblocking): using the portable \
             backend, where connecting and row reads block (see the README's platform table)"
        );
    }
}

/// `mysql.h` of the first include directory that has it: its path and text.
fn read_mysql_h(dirs: &[PathBuf]) -> Option<(PathBuf, String)> {
    let path = dirs
        .iter()
        .map(|d| d.join("mysql.h"))
        .find(|p| p.is_file())?;
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, text))
}

fn is_mariadb((path, text): &(PathBuf, String)) -> bool {
    text.contains("MARIADB") || path.with_file_name("mariadb_version.h").is_file()
}

/// Include directories, in order of preference: an explicit override (a path
/// list), pkg-config in `mysqlclient-sys`'s own order (`mysqlclient`, then
/// `libmariadb`: the headers must describe the library it links), then
/// `mysql_config` / `mariadb_config`.
fn try_find_include_dirs() -> Option<Vec<PathBuf>> {
    if let Ok(dir) = env::var("MYSQLCLIENT_INCLUDE_DIR") {
        return Some(env::split_paths(&dir).collect());
    }
    for name in ["mysqlclient", "libmariadb"] {
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
                return Some(dirs);
            }
        }
    }
    for tool in ["mysql_config", "mariadb_config"] {
        if let Ok(out) = Command::new(tool).arg("--include").output() {
            if out.status.success() {
                let dirs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|s| s.strip_prefix("-I"))
                    .map(PathBuf::from)
                    .filter(|p| has_mysql_h(p))
                    .collect();
                if !dirs.is_empty() {
                    return Some(dirs);
                }
            }
        }
    }
    ["/usr/include/mysql", "/usr/include/mariadb"]
        .iter()
        .map(PathBuf::from)
        .find(|d| has_mysql_h(d))
        .map(|d| vec![d])
}

fn has_mysql_h(dir: &Path) -> bool {
    dir.join("mysql.h").is_file()
}
