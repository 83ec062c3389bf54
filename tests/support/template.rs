//! The data-directory template: `mariadb-install-db` runs once per machine (per
//! user, `mariadbd` build, install arguments and bootstrap SQL), and every private
//! server gets a copy of its result instead of running it again (about 0.8 s alone,
//! 2 s and more when several run at once, against some 30 ms for the copy).
//!
//! The template lives in `$TMPDIR/mysqlclient-async-template-<uid>-<key>`, where
//! `<key>` is a hash of everything that shapes the data directory. It is made in a
//! directory of its own (`….build-<pid>-<n>`), flushed to disk, sealed with the full
//! key text in `template.key` and a `lock` file, then renamed into place: a template
//! under its final name is complete. Test binaries that start together take turns
//! on `<template>.lock` to make it (the later ones then find it made); should they
//! race anyway, each makes one, the first rename wins and the others throw theirs
//! away.
//!
//! Each process that uses a template holds a shared `flock` on its `lock` file until
//! it exits, and touches the file's mtime (the template's last use). The sweep
//! ([`sweep`]) only removes a template it can lock exclusively, so never one that a
//! live process uses; it keeps the current one and the
//! [`KEEP_OTHERS`] most recently used others not older than [`MAX_IDLE`], and
//! removes the build and trash directories of dead processes.
//!
//! Nothing in a fresh data directory ties it to one server: the server id, the
//! binary log and relay log (and so the GTID state) and Galera's `grastate.dat` /
//! `gvwstate.dat` / gcache come from the options and the first start, not from
//! `mariadb-install-db`; copies skip such files anyway ([`is_per_server_file`]), as
//! `ibtmp1`, which every start recreates.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::{head, is_root, pid_alive, run_with_timeout, Tools, BOOTSTRAP_SQL, TOOL_TIMEOUT};

/// Set to a non-empty value other than `0` to run `mariadb-install-db` for every
/// server instead of copying the template.
pub const NO_TEMPLATE_ENV: &str = "MYSQLCLIENT_ASYNC_TEST_NO_TEMPLATE";

/// Name prefix of templates (and of their build and trash directories) in `$TMPDIR`.
pub const PREFIX: &str = "mysqlclient-async-template-";

/// Templates of other keys kept by the sweep (the most recently used first).
pub const KEEP_OTHERS: usize = 2;

/// Templates of other keys unused for longer are removed by the sweep.
pub const MAX_IDLE: Duration = Duration::from_secs(3 * 24 * 3600);

/// Bumped when the layout of a template changes.
const FORMAT: u32 = 1;

/// `mariadb-install-db` options besides the paths and `--user`; part of the key.
pub(super) const INSTALL_ARGS: [&str; 5] = [
    "--no-defaults",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--skip-name-resolve",
    "--innodb-log-file-size=16M",
];

/// How long to wait for a shared lock held exclusively by a sweep that removes the
/// template (a rename and a `rm -r`).
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The `mariadb-install-db` command for `data_dir`, run as `user` (when root).
pub(super) fn install_db_command(
    tools: &Tools,
    data_dir: &Path,
    tmp_dir: &Path,
    sql_path: &Path,
    user: Option<&str>,
) -> Command {
    let mut cmd = Command::new(&tools.install_db);
    cmd.args(INSTALL_ARGS)
        .arg(format!("--datadir={}", data_dir.display()))
        .arg(format!("--extra-file={}", sql_path.display()))
        .arg(format!("--tmpdir={}", tmp_dir.display()));
    if let Some(user) = user {
        cmd.arg(format!("--user={user}"));
    }
    cmd
}

/// Runs `cmd` (a [`install_db_command`]) and turns a failure into its message.
pub(super) fn run_install_db(cmd: Command) -> Result<(), String> {
    let out = run_with_timeout(cmd, TOOL_TIMEOUT)?;
    if out.status.success() {
        return Ok(());
    }
    // The cause comes first; the rest of stdout is generic advice.
    Err(format!(
        "mariadb-install-db failed ({}):\n{}{}",
        out.status,
        head(&String::from_utf8_lossy(&out.stderr), 40),
        head(&String::from_utf8_lossy(&out.stdout), 8)
    ))
}

/// A template this process uses: its shared lock is held while the value lives
/// (in a static, so until the process exits).
pub(super) struct Template {
    dir: PathBuf,
    _lock: File,
}

impl Template {
    /// The template's data directory, to copy with [`copy_data_dir`].
    pub(super) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The template's directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The template of this process, made on first use; `Err` (once, with why) if it
/// cannot be made or is turned off with [`NO_TEMPLATE_ENV`].
pub(super) fn shared(tools: &Tools) -> Result<&'static Template, &'static str> {
    static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let result = if !enabled() {
                Err(format!("{NO_TEMPLATE_ENV} is set"))
            } else {
                acquire(tools)
            };
            if let Err(why) = &result {
                eprintln!(
                    "support: no data-directory template ({why}); every server runs \
                     mariadb-install-db of its own (slower)"
                );
            }
            result
        })
        .as_ref()
        .map_err(String::as_str)
}

/// False if [`NO_TEMPLATE_ENV`] turns the template off.
pub fn enabled() -> bool {
    !std::env::var(NO_TEMPLATE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The key text and the template's final path.
struct Key {
    text: String,
    dir: PathBuf,
}

/// Everything that shapes the data directory `mariadb-install-db` makes, and the
/// owner of the cache; computed once per process.
fn key(tools: &Tools) -> Result<&'static Key, String> {
    static KEY: OnceLock<Result<Key, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut cmd = Command::new(&tools.mariadbd);
        cmd.arg("--version");
        let out = run_with_timeout(cmd, TOOL_TIMEOUT)?;
        if !out.status.success() {
            return Err(format!(
                "`{} --version` failed ({}): {}",
                tools.mariadbd.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let binary = |p: &Path| -> Result<String, String> {
            let m = fs::metadata(p).map_err(|e| format!("stat {}: {e}", p.display()))?;
            Ok(format!(
                "{} ({} bytes, mtime {}.{:09})",
                p.display(),
                m.len(),
                m.mtime(),
                m.mtime_nsec()
            ))
        };
        let euid = euid();
        let text = format!(
            "mysqlclient-async data-directory template, format {FORMAT}\n\
             owner uid: {euid}\n\
             mariadbd: {}\n\
             version: {version}\n\
             mariadb-install-db: {}\n\
             install options: {} {}\n\
             bootstrap SQL:\n{BOOTSTRAP_SQL}",
            binary(&tools.mariadbd)?,
            binary(&tools.install_db)?,
            INSTALL_ARGS.join(" "),
            install_user().map_or(String::new(), |u| format!("--user={u}")),
        );
        let dir =
            std::env::temp_dir().join(format!("{PREFIX}{euid}-{:016x}", fnv1a64(text.as_bytes())));
        Ok(Key { text, dir })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `--user` for `mariadb-install-db` of the template: the files belong to whoever
/// runs the tests (servers run as `mysql` get a chowned copy).
fn install_user() -> Option<&'static str> {
    is_root().then_some("root")
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// 64-bit FNV-1a: stable across builds and toolchains (unlike `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Finds or makes the template and takes its shared lock.
fn acquire(tools: &Tools) -> Result<Template, String> {
    let key = key(tools)?;
    // A template can vanish between our look and our lock (a sweep of another key's
    // process removed it because it looked unused); then we make it again.
    for _ in 0..3 {
        if let Some(template) = adopt(key)? {
            return Ok(template);
        }
        let building = lock_for_building(key);
        // Whoever held the lock before us may have made it.
        if let Some(template) = adopt(key)? {
            return Ok(template);
        }
        let t0 = Instant::now();
        let made = build(tools, key)?;
        drop(building);
        if made {
            eprintln!(
                "support: made the data-directory template {} in {:.2?} (mariadb-install-db \
                 once; later servers and test binaries copy it)",
                key.dir.display(),
                t0.elapsed()
            );
        }
    }
    Err(format!(
        "the template {} vanished three times in a row",
        key.dir.display()
    ))
}

/// An exclusive lock on `<template>.lock`, so that test binaries starting together
/// run one `mariadb-install-db` instead of one each (they share the cores): the
/// others wait, then find the template made. `None` (build anyway: racing builds
/// are safe, only slower) if it cannot be had within [`TOOL_TIMEOUT`] and a bit.
fn lock_for_building(key: &Key) -> Option<File> {
    let path = build_lock_path(&key.dir);
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .or_else(|_| File::open(&path))
        .ok()?;
    let deadline = Instant::now() + TOOL_TIMEOUT + Duration::from_secs(30);
    loop {
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => return Some(file),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return None,
        }
    }
}

fn build_lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the shared lock of a complete, valid template of `key`; `None` if there is
/// none (an invalid one is removed first).
fn adopt(key: &Key) -> Result<Option<Template>, String> {
    let lock_path = key.dir.join("lock");
    let lock = match File::open(&lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A sealed template always has its lock file: something else took the
            // name (or a sweep just removed the template).
            if fs::symlink_metadata(&key.dir).is_ok() && fs::symlink_metadata(&lock_path).is_err() {
                discard_unlocked(&key.dir)?;
            }
            return Ok(None);
        }
        Err(e) => return Err(format!("open {}: {e}", lock_path.display())),
    };
    lock_shared(&lock, &lock_path)?;
    // A sweep may have renamed the template away while we waited for the lock.
    let same = match (lock.metadata(), fs::metadata(&lock_path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    };
    if !same {
        return Ok(None);
    }
    if let Err(why) = check_sealed(&key.dir, &key.text) {
        drop(lock);
        eprintln!(
            "support: removing the data-directory template {}: {why}",
            key.dir.display()
        );
        match try_lock_exclusive(&lock_path)? {
            Some(excl) => discard(&key.dir, excl)?,
            None => {
                return Err(format!(
                    "{} is not a valid template ({why}) and another process holds it",
                    key.dir.display()
                ))
            }
        }
        return Ok(None);
    }
    // Its last use, for the sweep; a failure only makes it look older.
    let _ = lock.set_modified(SystemTime::now());
    Ok(Some(Template {
        dir: key.dir.clone(),
        _lock: lock,
    }))
}

/// Why `dir` is not a sealed template of `text`, owned by us and writable by us only.
fn check_sealed(dir: &Path, text: &str) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("stat: {e}"))?;
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    if meta.uid() != euid() || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "owned by uid {} with mode {:o} (want uid {}, not writable by others)",
            meta.uid(),
            meta.mode() & 0o7777,
            euid()
        ));
    }
    match fs::read_to_string(dir.join("template.key")) {
        Ok(found) if found == text => {}
        Ok(_) => return Err("template.key names another key".into()),
        Err(e) => return Err(format!("template.key: {e}")),
    }
    if !dir.join("data").join("mysql").is_dir() {
        return Err("no data/mysql".into());
    }
    Ok(())
}

/// Makes the template of `key`: true if ours is the one now in place, false if
/// another process sealed one first (ours is thrown away).
fn build(tools: &Tools, key: &Key) -> Result<bool, String> {
    let build = sibling(&key.dir, "build");
    let _ = fs::remove_dir_all(&build);
    let result = (|| {
        let tmp = build.join("tmp");
        fs::create_dir_all(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
        let sql = build.join("bootstrap.sql");
        fs::write(&sql, BOOTSTRAP_SQL).map_err(|e| format!("write {}: {e}", sql.display()))?;
        let data = build.join("data");
        run_install_db(install_db_command(tools, &data, &tmp, &sql, install_user()))?;
        // Nothing of the kind is expected from mariadb-install-db; make sure.
        remove_per_server_files(&data)?;
        for leftover in [&sql, &tmp] {
            let _ = fs::remove_dir_all(leftover).or_else(|_| fs::remove_file(leftover));
        }
        // Durable before sealed: a crash must not leave a sealed, half-written one.
        sync_tree(&data)?;
        write_synced(&build.join("template.key"), key.text.as_bytes())?;
        write_synced(&build.join("lock"), b"")?;
        fs::set_permissions(&build, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", build.display()))?;
        sync_dir(&build)?;
        Ok::<(), String>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&build);
        return Err(e);
    }
    match fs::rename(&build, &key.dir) {
        Ok(()) => {
            if let Some(parent) = key.dir.parent() {
                let _ = sync_dir(parent);
            }
            Ok(true)
        }
        // ENOTEMPTY or EEXIST: another process sealed one first.
        Err(_) if fs::symlink_metadata(&key.dir).is_ok() => {
            let _ = fs::remove_dir_all(&build);
            Ok(false)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&build);
            Err(format!(
                "rename {} to {}: {e}",
                build.display(),
                key.dir.display()
            ))
        }
    }
}

/// `<dir>.<what>-<pid>-<n>`: a build or trash directory of this process.
fn sibling(dir: &Path, what: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let mut name = dir.as_os_str().to_owned();
    name.push(format!(
        ".{what}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(name)
}

/// Files of a data directory that belong to one server and its runs, never to a
/// template: Galera's state and gcache, the InnoDB temporary tablespace, pid files
/// and sockets, binary and relay logs and their indexes and GTID state, and
/// replication positions.
pub fn is_per_server_file(name: &str) -> bool {
    matches!(
        name,
        "grastate.dat"
            | "gvwstate.dat"
            | "galera.cache"
            | "ibtmp1"
            | "master.info"
            | "relay-log.info"
            | "multi-master.info"
            | "sst_in_progress"
            | "rsync_sst.conf"
    ) || name.starts_with("gcache.page.")
        || name.ends_with(".pid")
        || name.ends_with(".sock")
        || name.contains("-bin.")
}

fn remove_per_server_files(data: &Path) -> Result<(), String> {
    let entries = fs::read_dir(data).map_err(|e| format!("read {}: {e}", data.display()))?;
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(is_per_server_file) {
            let path = entry.path();
            fs::remove_file(&path)
                .or_else(|_| fs::remove_dir_all(&path))
                .map_err(|e| format!("remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Copies the template's data directory to `dst` (which must not exist): modes and
/// symbolic links preserved, owned by us, per-server files
/// ([`is_per_server_file`]) left out at the top level.
pub(super) fn copy_data_dir(template: &Template, dst: &Path) -> Result<(), String> {
    copy_tree(&template.data_dir(), dst, true)
}

fn copy_tree(src: &Path, dst: &Path, top: bool) -> Result<(), String> {
    let meta = fs::metadata(src).map_err(|e| format!("stat {}: {e}", src.display()))?;
    fs::create_dir(dst).map_err(|e| format!("create {}: {e}", dst.display()))?;
    let entries = fs::read_dir(src).map_err(|e| format!("read {}: {e}", src.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", src.display()))?;
        let name = entry.file_name();
        if top && name.to_str().is_some_and(is_per_server_file) {
            continue;
        }
        let (from, to) = (entry.path(), dst.join(&name));
        let kind = entry
            .file_type()
            .map_err(|e| format!("stat {}: {e}", from.display()))?;
        if kind.is_dir() {
            copy_tree(&from, &to, false)?;
        } else if kind.is_symlink() {
            let target =
                fs::read_link(&from).map_err(|e| format!("readlink {}: {e}", from.display()))?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| format!("symlink {}: {e}", to.display()))?;
        } else if kind.is_file() {
            // Copies the permission bits too.
            fs::copy(&from, &to)
                .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
        }
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| format!("chmod {}: {e}", dst.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("fsync {}: {e}", dir.display()))
}

/// fsync of every file and directory under `dir`.
fn sync_tree(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", dir.display()))?;
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => sync_tree(&path)?,
            Ok(t) if t.is_file() => File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("fsync {}: {e}", path.display()))?,
            _ => {}
        }
    }
    sync_dir(dir)
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own (borrowed for the call); no memory is
    // passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits (bounded) for a shared lock on `file`.
fn lock_shared(file: &File, path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match flock(file, libc::LOCK_SH | libc::LOCK_NB) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("flock(LOCK_SH) {}: {e}", path.display())),
        }
    }
}

/// An exclusive lock on `lock_path` if nobody else holds any; `None` if someone does.
fn try_lock_exclusive(lock_path: &Path) -> Result<Option<File>, String> {
    let file = File::open(lock_path).map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(format!("flock(LOCK_EX) {}: {e}", lock_path.display())),
    }
}

/// Renames `dir` out of the way and removes it, holding `exclusive` (its lock) until
/// it is gone: whoever waits for a shared lock then finds it renamed.
fn discard(dir: &Path, exclusive: File) -> Result<(), String> {
    let trash = sibling(dir, "trash");
    fs::rename(dir, &trash)
        .map_err(|e| format!("rename {} to {}: {e}", dir.display(), trash.display()))?;
    let _ = fs::remove_dir_all(&trash);
    drop(exclusive);
    Ok(())
}

/// Removes `dir`, which has no lock file (so nobody can have adopted it).
fn discard_unlocked(dir: &Path) -> Result<(), String> {
    let trash = sibling(dir, "trash");
    fs::rename(dir, &trash).map_err(|e| {
        format!(
            "{} is not a template and cannot be moved away: {e}",
            dir.display()
        )
    })?;
    let _ = fs::remove_dir_all(&trash);
    Ok(())
}

/// Where the template of this process's key is (whether it exists or not); `None`
/// if the key cannot be computed (no server tools, `mariadbd --version` fails).
pub fn current_dir() -> Option<PathBuf> {
    let tools = super::server_tools().ok()?;
    key(tools).ok().map(|k| k.dir.clone())
}

/// Whether some process (this one included) holds a lock on the template in `dir`
/// (false if it has no lock file).
pub fn in_use(dir: &Path) -> bool {
    matches!(try_lock_exclusive(&dir.join("lock")), Ok(None))
}

/// Takes a shared lock on the template in `dir` as a user of it does, held until
/// the returned file is dropped.
pub fn hold(dir: &Path) -> Result<File, String> {
    let lock_path = dir.join("lock");
    let lock = File::open(&lock_path).map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    lock_shared(&lock, &lock_path)?;
    Ok(lock)
}

/// What the sweep did, for the self-test.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Templates removed (idle for more than [`MAX_IDLE`], or beyond [`KEEP_OTHERS`]).
    pub removed: Vec<PathBuf>,
    /// Templates of other keys kept because a live process holds them.
    pub in_use: Vec<PathBuf>,
}

/// Removes, among our user's entries in `$TMPDIR`: build and trash directories of
/// dead processes, and templates of other keys that no live process holds and that
/// are either unused for more than [`MAX_IDLE`] or not among the [`KEEP_OTHERS`]
/// most recently used. The current key's template is always kept.
pub fn sweep() -> SweepReport {
    let mut report = SweepReport::default();
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return report;
    };
    let current = current_dir();
    let mine = format!("{PREFIX}{}-", euid());
    let me = std::process::id();
    // (last use, path, exclusive lock)
    let mut idle: Vec<(SystemTime, PathBuf, File)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&mine)) else {
            continue;
        };
        let path = entry.path();
        if let Some((key_part, temp)) = rest.split_once('.') {
            if temp == "lock" {
                // The build lock of a template that is gone (and that nobody is
                // making now).
                let template = std::env::temp_dir().join(format!("{mine}{key_part}"));
                if fs::symlink_metadata(&template).is_err() {
                    if let Ok(Some(_excl)) = try_lock_exclusive(&path) {
                        let _ = fs::remove_file(&path);
                    }
                }
                continue;
            }
            // `<key>.build-<pid>-<n>` or `<key>.trash-<pid>-<n>`.
            let pid = temp
                .strip_prefix("build-")
                .or_else(|| temp.strip_prefix("trash-"))
                .and_then(|t| t.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != me && !pid_alive(pid) {
                    let _ = fs::remove_dir_all(&path);
                }
            }
            continue;
        }
        if current.as_ref() == Some(&path) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let lock_path = path.join("lock");
        if fs::symlink_metadata(&lock_path).is_err() {
            // Not sealed (nobody can use it): not made by this code.
            let _ = discard_unlocked(&path);
            report.removed.push(path);
            continue;
        }
        match try_lock_exclusive(&lock_path) {
            Ok(Some(excl)) => {
                let used = fs::metadata(&lock_path)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                idle.push((used, path, excl));
            }
            Ok(None) => report.in_use.push(path),
            Err(_) => {}
        }
    }
    // Most recently used first.
    idle.sort_by_key(|(used, _, _)| std::cmp::Reverse(*used));
    let now = SystemTime::now();
    for (i, (used, path, excl)) in idle.into_iter().enumerate() {
        let age = now.duration_since(used).unwrap_or(Duration::ZERO);
        if (i >= KEEP_OTHERS || age > MAX_IDLE) && discard(&path, excl).is_ok() {
            report.removed.push(path);
        }
    }
    report
}
