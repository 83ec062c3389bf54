//! A fault-injecting TCP relay between the client and a test server.
//!
//! [`Proxy::start`] listens on a free loopback port and relays every accepted
//! connection to the upstream server, on a thread of its own (so it serves blocking
//! and async clients alike). What it does to the traffic is set at any time with
//! [`Proxy::set`] (every connection, existing and new), [`Proxy::set_existing`] or
//! [`Proxy::set_new`]; faults act on the server→client direction (the client's
//! bytes still reach the server) except [`Fault::BlackHole`]. [`Proxy::on_accept`]
//! decides what happens to new connections before any byte is relayed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
}

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
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let f = fault.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while *f.lock().unwrap() == Fault::BlackHole {
                tokio::time::sleep(TICK).await;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let mut held: VecDeque<u8> = VecDeque::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut server_open = true;
        loop {
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
                    if cw.write_all(&all).await.is_err() {
                        return;
                    }
                }
                Fault::Stall | Fault::BlackHole => tokio::time::sleep(TICK).await,
                Fault::Drip(every) => {
                    let b = held.pop_front().unwrap();
                    if cw.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                Fault::StallAfter(n)
                | Fault::ResetAfter(n)
                | Fault::TruncateAfter(n)
                | Fault::GarbageAfter(n) => {
                    let part = relay(&mut held, n);
                    if !part.is_empty() && cw.write_all(&part).await.is_err() {
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
                            if cw.write_all(&[0xFC; 64]).await.is_err() {
                                return;
                            }
                            counted(0, Fault::Stall);
                        }
                    }
                }
                Fault::BogusLength => {
                    let seq = held.get(3).copied().unwrap_or(1);
                    held.clear();
                    if cw.write_all(&[0xFF, 0xFF, 0xFF, seq]).await.is_err() {
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
