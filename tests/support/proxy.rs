//! A fault-injecting TCP relay between the client and a test server.
//!
//! [`Proxy::start`] listens on a free loopback port and relays every accepted
//! connection to the upstream server, on a thread of its own (so it serves blocking
//! and async clients alike). What it does to the traffic is set at any time with
//! [`Proxy::set`] (every connection, existing and new), [`Proxy::set_existing`] or
//! [`Proxy::set_new`]; faults act on the server→client direction (the client's
//! bytes still reach the server) except [`Fault::BlackHole`]. [`Proxy::on_accept`]
//! decides what happens to new connections before any byte is relayed.
//!
//! It also reads the client's commands (plain-text connections only: after a
//! client asks for TLS its bytes are relayed untouched). MySQL packets are framed
//! as a 3-byte little-endian payload length, a 1-byte sequence id and the payload;
//! every command starts a new sequence at 0, and its payload starts with the
//! command byte ([`COM_QUERY`], [`COM_STMT_PREPARE`], …), so a client packet with
//! sequence id 0 is a command, whatever stage the handshake reached before.
//! Rules act on them: [`Proxy::refuse_command`] answers an error instead of
//! forwarding, [`Proxy::drop_on_command`] closes the connection (what ProxySQL
//! before 2.4 does with a command it does not know), [`Proxy::cut_after_forwarding`]
//! and [`Proxy::cut_before_forwarding`] close both sides around one command;
//! [`Proxy::commands_seen`] counts them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `COM_QUERY`: a text statement.
pub const COM_QUERY: u8 = 0x03;
/// `COM_PING`.
pub const COM_PING: u8 = 0x0e;
/// `COM_STMT_PREPARE`.
pub const COM_STMT_PREPARE: u8 = 0x16;
/// `COM_STMT_EXECUTE`.
pub const COM_STMT_EXECUTE: u8 = 0x17;
/// `COM_RESET_CONNECTION`.
pub const COM_RESET_CONNECTION: u8 = 0x1f;

/// A test on a command's payload (its first byte is the command).
pub type CommandTest = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// A `COM_QUERY` whose text starts with `prefix` (ASCII case ignored, leading
/// white space skipped), e.g. `query_starting_with("COMMIT")`.
pub fn query_starting_with(prefix: &'static str) -> CommandTest {
    Arc::new(move |p: &[u8]| {
        if p.first() != Some(&COM_QUERY) {
            return false;
        }
        let text = p[1..].trim_ascii_start();
        text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })
}

/// What the relay does with a client command that a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Do not forward; answer `ERR 1047 (08S01) Unknown command`.
    Refuse,
    /// Do not forward; close both connections.
    Drop,
    /// Forward it, then close both connections at once: the server runs it, the
    /// client never hears the answer.
    CutAfter,
    /// Do not forward; close both connections.
    CutBefore,
}

struct Rule {
    test: CommandTest,
    action: Action,
    /// Removed after its first match.
    once: bool,
}

/// What the relay does to the server's bytes from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relay everything.
    Pass,
    /// Hold the server's bytes: nothing more reaches the client.
    Stall,
    /// Relay this many more bytes, then stall.
    StallAfter(usize),
    /// Relay one byte at a time, one every so often.
    Drip(Duration),
    /// Relay this many more bytes, then reset the client's connection (RST).
    ResetAfter(usize),
    /// Relay this many more bytes, then close both connections (FIN).
    TruncateAfter(usize),
    /// Relay this many more bytes, then 64 garbage bytes (0xFC) instead of the
    /// rest, and hold everything after.
    GarbageAfter(usize),
    /// Instead of the server's next bytes, send a packet header announcing 16 MB
    /// that never come, and hold everything after.
    BogusLength,
    /// Relay nothing in either direction, keep both connections open.
    BlackHole,
}

/// What happens to a newly accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAccept {
    /// Connect upstream and relay (with the fault set for new connections).
    Relay,
    /// Accept, never connect upstream, never send anything, keep it open.
    NeverGreet,
    /// Relay this many bytes of the server's greeting, then stall.
    GreetHalfway(usize),
    /// Accept and close at once.
    CloseAtOnce,
}

struct State {
    for_new: Fault,
    on_accept: OnAccept,
    conns: Vec<Arc<Mutex<Fault>>>,
    accepted: usize,
    rules: Vec<Rule>,
    /// Commands seen (matched or not), by command byte.
    seen: [usize; 256],
}

impl State {
    /// Count the command `payload` and find what to do with it.
    fn on_command(&mut self, payload: &[u8]) -> Option<Action> {
        self.seen[payload[0] as usize] += 1;
        let i = self.rules.iter().position(|r| (r.test)(payload))?;
        let action = self.rules[i].action;
        if self.rules[i].once {
            self.rules.remove(i);
        }
        Some(action)
    }
}

/// A running relay; stopped (and every relayed connection closed) on drop.
pub struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// Relay a free loopback port to `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: SocketAddr) -> Proxy {
        let state = Arc::new(Mutex::new(State {
            for_new: Fault::Pass,
            on_accept: OnAccept::Relay,
            conns: Vec::new(),
            accepted: 0,
            rules: Vec::new(),
            seen: [0; 256],
        }));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    let serve = async {
                        loop {
                            let Ok((client, _)) = listener.accept().await else {
                                continue;
                            };
                            let st = st.clone();
                            tokio::spawn(handle(client, upstream, st));
                        }
                    };
                    tokio::select! {
                        _ = serve => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every relay task and closes its sockets.
            })
            .expect("spawn the proxy thread");
        Proxy {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `base` (a `mysql://user@127.0.0.1:PORT/db?…` URL) pointed at this relay.
    pub fn url(&self, base: &str) -> String {
        let mut u = url::Url::parse(base).expect("a test URL");
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }

    /// The fault for every connection, existing and new.
    pub fn set(&self, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        s.for_new = fault;
        for c in &s.conns {
            *c.lock().unwrap() = fault;
        }
    }

    /// The fault for the connections relayed so far only.
    pub fn set_existing(&self, fault: Fault) {
        let s = self.state.lock().unwrap();
        for c in &s.conns {
            *c.lock().unwrap() = fault;
        }
    }

    /// The fault for connections accepted from now on only.
    pub fn set_new(&self, fault: Fault) {
        self.state.lock().unwrap().for_new = fault;
    }

    /// What to do with connections accepted from now on.
    pub fn on_accept(&self, what: OnAccept) {
        self.state.lock().unwrap().on_accept = what;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.lock().unwrap().accepted
    }

    fn add_rule(&self, test: CommandTest, action: Action, once: bool) {
        self.state
            .lock()
            .unwrap()
            .rules
            .push(Rule { test, action, once });
    }

    /// From now on, on every connection, answer command `cmd` with an error instead
    /// of forwarding it: `ERR 1047 (08S01) Unknown command`, sequence id 1, what
    /// a MySQL or MariaDB server answers to a command it does not know.
    pub fn refuse_command(&self, cmd: u8) {
        self.add_rule(Arc::new(move |p: &[u8]| p[0] == cmd), Action::Refuse, false);
    }

    /// From now on, on every connection, close both connections when the client
    /// sends command `cmd`, without forwarding it: what ProxySQL before 2.4 did
    /// with `COM_RESET_CONNECTION` (it logs "RECEIVED AN UNKNOWN COMMAND: 31" and
    /// drops the client connection; sysown/proxysql#2021).
    pub fn drop_on_command(&self, cmd: u8) {
        self.add_rule(Arc::new(move |p: &[u8]| p[0] == cmd), Action::Drop, false);
    }

    /// The next command that `test` accepts (on any connection) is forwarded to
    /// the server, and then both connections are closed at once: the server runs
    /// it (the relay closes its side with a FIN after the command and waits for
    /// the server to close), the client sees the connection lost before any
    /// answer. Once.
    pub fn cut_after_forwarding(&self, test: CommandTest) {
        self.add_rule(test, Action::CutAfter, true);
    }

    /// The next command that `test` accepts (on any connection) is not forwarded,
    /// and both connections are closed: the server never sees it. Once.
    pub fn cut_before_forwarding(&self, test: CommandTest) {
        self.add_rule(test, Action::CutBefore, true);
    }

    /// Forget every command rule.
    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Commands `cmd` the clients sent so far, on every connection (refused and
    /// cut ones included).
    pub fn commands_seen(&self, cmd: u8) -> usize {
        self.state.lock().unwrap().seen[cmd as usize]
    }
}

/// An `ERR` packet: header (payload length, sequence id), `0xFF`, the code,
/// `#`, the SQLSTATE, the message.
fn err_packet(seq: u8, code: u16, sqlstate: &str, message: &str) -> Vec<u8> {
    let mut payload = vec![0xFF];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.push(b'#');
    payload.extend_from_slice(sqlstate.as_bytes());
    payload.extend_from_slice(message.as_bytes());
    let len = payload.len() as u32;
    let mut packet = len.to_le_bytes()[..3].to_vec();
    packet.push(seq);
    packet.extend_from_slice(&payload);
    packet
}

/// `SSLRequest`: the handshake response the client sends (sequence id 1) before
/// switching to TLS, 32 bytes of payload.
const SSL_REQUEST_LEN: usize = 32;

impl Drop for Proxy {
    /// Stops the relay without waiting for its thread (the caller may be an event
    /// loop whose stalls are being measured): the thread closes every relayed
    /// connection and exits on its own, within milliseconds.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        drop(self.thread.take());
    }
}

const TICK: Duration = Duration::from_millis(2);

async fn handle(client: TcpStream, upstream: SocketAddr, st: Arc<Mutex<State>>) {
    let (on_accept, fault) = {
        let mut s = st.lock().unwrap();
        s.accepted += 1;
        let fault = Arc::new(Mutex::new(match s.on_accept {
            OnAccept::GreetHalfway(n) => Fault::StallAfter(n),
            _ => s.for_new,
        }));
        s.conns.push(fault.clone());
        (s.on_accept, fault)
    };
    match on_accept {
        OnAccept::CloseAtOnce => return,
        OnAccept::NeverGreet => {
            // Hold the connection open, silent, until the proxy stops.
            let _client = client;
            std::future::pending::<()>().await;
            return;
        }
        OnAccept::Relay | OnAccept::GreetHalfway(_) => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let client_fd = std::os::fd::AsRawFd::as_raw_fd(&client);
    let (mut cr, cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Both directions write to the client: the server's bytes, a refusal.
    let cw = Arc::new(tokio::sync::Mutex::new(cw));
    let cw_up = cw.clone();
    // A command was forwarded and the connections cut: the server's answer is
    // read and thrown away until the server closes.
    let cut = Arc::new(AtomicBool::new(false));
    let cut_up = cut.clone();
    let f = fault.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        // Client bytes not yet framed into a whole packet.
        let mut pending: Vec<u8> = Vec::new();
        // Packets are read until the client asks for TLS.
        let mut plain = true;
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while *f.lock().unwrap() == Fault::BlackHole {
                tokio::time::sleep(TICK).await;
            }
            if !plain {
                if sw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                continue;
            }
            pending.extend_from_slice(&buf[..n]);
            while plain && pending.len() >= 4 {
                let len = u32::from_le_bytes([pending[0], pending[1], pending[2], 0]) as usize;
                if pending.len() < 4 + len {
                    break;
                }
                let seq = pending[3];
                let packet: Vec<u8> = pending.drain(..4 + len).collect();
                let payload = &packet[4..];
                if seq == 1 && len == SSL_REQUEST_LEN {
                    plain = false;
                }
                let action = if seq == 0 && !payload.is_empty() {
                    st.lock().unwrap().on_command(payload)
                } else {
                    None
                };
                match action {
                    None => {
                        if sw.write_all(&packet).await.is_err() {
                            return;
                        }
                    }
                    Some(Action::Refuse) => {
                        let err = err_packet(seq.wrapping_add(1), 1047, "08S01", "Unknown command");
                        if cw_up.lock().await.write_all(&err).await.is_err() {
                            return;
                        }
                    }
                    Some(Action::Drop | Action::CutBefore) => return,
                    Some(Action::CutAfter) => {
                        let _ = sw.write_all(&packet).await;
                        // A FIN after the command: the server reads it whole, runs
                        // it, and sees the end of the stream only then.
                        let _ = sw.shutdown().await;
                        cut_up.store(true, Ordering::SeqCst);
                        // SAFETY: shutdown(2) of the relay's own client socket,
                        // still open (both halves are held): the client sees the
                        // end of the stream now; the descriptor is closed on drop.
                        unsafe { libc::shutdown(client_fd, libc::SHUT_RDWR) };
                        // The server side ends the relay (see `down`).
                        std::future::pending::<()>().await;
                    }
                }
            }
            if !plain && !pending.is_empty() {
                // TLS bytes that came with the request: relayed as they are.
                let rest = std::mem::take(&mut pending);
                if sw.write_all(&rest).await.is_err() {
                    return;
                }
            }
        }
    };
    let down = async move {
        let mut cut_deadline = None;
        let mut held: VecDeque<u8> = VecDeque::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut server_open = true;
        loop {
            if cut.load(Ordering::SeqCst) {
                // Read the server's answer to the cut command and throw it away
                // until the server closes (bounded, should it never).
                let deadline = *cut_deadline
                    .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(10));
                held.clear();
                match tokio::time::timeout_at(deadline, sr.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                    Ok(Ok(_)) => continue,
                }
            }
            // Take what the server sent, without waiting long, so that a change of
            // fault is seen promptly.
            if server_open && held.len() < 256 * 1024 * 1024 {
                match tokio::time::timeout(TICK, sr.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => server_open = false,
                    Ok(Ok(n)) => held.extend(&buf[..n]),
                    Err(_) => {}
                }
            }
            if held.is_empty() {
                if !server_open {
                    return;
                }
                continue;
            }
            let now = *fault.lock().unwrap();
            // Relay up to `n` bytes; the fault's own count goes down by as many.
            let relay = |held: &mut VecDeque<u8>, n: usize| -> Vec<u8> {
                let k = n.min(held.len());
                held.drain(..k).collect()
            };
            let counted = |left: usize, next: Fault| {
                let mut f = fault.lock().unwrap();
                if *f == now {
                    *f = next;
                }
                let _ = left;
            };
            match now {
                Fault::Pass => {
                    let all: Vec<u8> = held.drain(..).collect();
                    if cw.lock().await.write_all(&all).await.is_err() {
                        return;
                    }
                }
                Fault::Stall | Fault::BlackHole => tokio::time::sleep(TICK).await,
                Fault::Drip(every) => {
                    let b = held.pop_front().unwrap();
                    if cw.lock().await.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                Fault::StallAfter(n)
                | Fault::ResetAfter(n)
                | Fault::TruncateAfter(n)
                | Fault::GarbageAfter(n) => {
                    let part = relay(&mut held, n);
                    if !part.is_empty() && cw.lock().await.write_all(&part).await.is_err() {
                        return;
                    }
                    let left = n - part.len();
                    if left > 0 {
                        counted(
                            left,
                            match now {
                                Fault::StallAfter(_) => Fault::StallAfter(left),
                                Fault::ResetAfter(_) => Fault::ResetAfter(left),
                                Fault::TruncateAfter(_) => Fault::TruncateAfter(left),
                                _ => Fault::GarbageAfter(left),
                            },
                        );
                        continue;
                    }
                    match now {
                        Fault::StallAfter(_) => counted(0, Fault::Stall),
                        Fault::ResetAfter(_) => {
                            let linger = libc::linger {
                                l_onoff: 1,
                                l_linger: 0,
                            };
                            // SAFETY: SO_LINGER on the relay's own client socket, which
                            // is still open (its write half is held here): closing it
                            // now sends a reset.
                            unsafe {
                                libc::setsockopt(
                                    client_fd,
                                    libc::SOL_SOCKET,
                                    libc::SO_LINGER,
                                    &linger as *const libc::linger as *const libc::c_void,
                                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                                )
                            };
                            return;
                        }
                        Fault::TruncateAfter(_) => return,
                        _ => {
                            held.clear();
                            if cw.lock().await.write_all(&[0xFC; 64]).await.is_err() {
                                return;
                            }
                            counted(0, Fault::Stall);
                        }
                    }
                }
                Fault::BogusLength => {
                    let seq = held.get(3).copied().unwrap_or(1);
                    held.clear();
                    if cw
                        .lock()
                        .await
                        .write_all(&[0xFF, 0xFF, 0xFF, seq])
                        .await
                        .is_err()
                    {
                        return;
                    }
                    counted(0, Fault::Stall);
                }
            }
        }
    };
    // Whichever direction ends first ends the relay: both connections close.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
