//! What the reactor watches: the library's own socket, through one epoll set per
//! runtime that the crate owns (one descriptor per connection, not two).
//!
//! The library owns its socket and closes it whenever it likes (a failed
//! connect, a lost connection: inside any `_cont`). Registered straight in
//! tokio's epoll, a closed and reused fd number would make the deregistration
//! remove somebody else's registration, which tokio's I/O-safety contract
//! forbids. So the sockets go into an epoll set of our own instead, and tokio
//! watches that set's descriptor (which we own). In our set:
//! - nothing but our connections' sockets is ever registered;
//! - we never remove an entry by number: the kernel removes it when the socket
//!   is closed (an epoll entry lives as long as the open socket), so a number the
//!   library closed and the system gave to a new socket can never be confused
//!   with the old one;
//! - each entry carries a token (slot and generation), so an event for a socket
//!   whose connection is gone finds no waiter.
//!
//! A driver task per runtime waits for the set to become readable, collects its
//! events without blocking and wakes the connections they concern. Readiness
//! follows tokio's model: edge-triggered, cached per direction, and cleared by
//! the reader only when the library hit `EAGAIN` and no event came since (a tick
//! tells); a direction the peer closed stays ready for good (the end of the
//! stream comes with a single event, and a library that stopped reading before
//! it, as Oracle's client does mid-packet, must still find it).

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Waker};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The readiness bits of a slot.
const READ: u8 = 1;
const WRITE: u8 = 2;

/// One connection's place in its runtime's set.
#[derive(Default)]
struct Slot {
    /// Bumped each time the slot is freed: events and handles of earlier owners
    /// no longer match.
    gen: u32,
    live: bool,
    ready: u8,
    /// The directions the peer closed (or the socket failed): sticky, as in
    /// tokio, since a read (write) there returns at once from then on and no
    /// new event will announce it.
    closed: u8,
    /// Bumped with every event.
    tick: u32,
    read: Option<Waker>,
    write: Option<Waker>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

/// A runtime's epoll set and the connections in it.
struct Mux {
    ep: AsyncFd<OwnedFd>,
    table: Mutex<Table>,
}

fn token(index: u32, gen: u32) -> u64 {
    u64::from(gen) << 32 | u64::from(index)
}

impl Mux {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table inconsistent
        // (every update is a plain field store).
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The set of the current runtime, created (with its driver task) on first use.
    fn current() -> io::Result<Arc<Mux>> {
        type Registry = Mutex<Vec<(tokio::runtime::Id, Weak<Mux>)>>;
        static MUXES: OnceLock<Registry> = OnceLock::new();
        let handle = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let id = handle.id();
        let mut muxes = MUXES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(m) = muxes
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(m);
        }
        muxes.retain(|(_, w)| w.strong_count() > 0);
        // SAFETY: epoll_create1 takes no pointers; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the AsyncFd owns the set's descriptor, which stays open until the
        // AsyncFd is dropped; as_raw_fd always returns it.
        let ep = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        let mux = Arc::new(Mux {
            ep,
            table: Mutex::new(Table::default()),
        });
        // The driver holds the set for as long as the runtime runs it; the
        // registry only refers to it.
        handle.spawn(drive(mux.clone()));
        muxes.push((id, Arc::downgrade(&mux)));
        Ok(mux)
    }

    /// Record the events of one epoll entry and collect the wakers to call.
    fn deliver(&self, data: u64, events: u32, wake: &mut Vec<Waker>) {
        let (index, gen) = (data as u32, (data >> 32) as u32);
        let mut table = self.lock();
        let Some(slot) = table.slots.get_mut(index as usize) else {
            return;
        };
        if !slot.live || slot.gen != gen {
            return;
        }
        let e = |bits: libc::c_int| events & bits as u32 != 0;
        let mut ready = 0;
        if e(libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI) {
            ready |= READ;
        }
        if e(libc::EPOLLOUT) {
            ready |= WRITE;
        }
        if e(libc::EPOLLERR | libc::EPOLLHUP) {
            ready |= READ | WRITE;
            slot.closed |= READ | WRITE;
        }
        if e(libc::EPOLLRDHUP) {
            slot.closed |= READ;
        }
        slot.ready |= ready;
        slot.tick = slot.tick.wrapping_add(1);
        if ready & READ != 0 {
            wake.extend(slot.read.take());
        }
        if ready & WRITE != 0 {
            wake.extend(slot.write.take());
        }
    }
}

/// The driver: each time the set is readable, take every pending event without
/// blocking and wake whoever waits for it.
async fn drive(mux: Arc<Mux>) {
    const BATCH: usize = 256;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; BATCH];
    let mut wake = Vec::new();
    loop {
        let Ok(mut guard) = mux.ep.readable().await else {
            return; // the runtime is shutting down
        };
        loop {
            // SAFETY: `events` has room for BATCH entries; a zero timeout never blocks.
            let n = unsafe {
                libc::epoll_wait(
                    mux.ep.as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    0,
                )
            };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for ev in &events[..n as usize] {
                mux.deliver(ev.u64, ev.events, &mut wake);
            }
            for w in wake.drain(..) {
                w.wake();
            }
            if (n as usize) < BATCH {
                break;
            }
        }
        guard.clear_ready();
    }
}

/// A socket the library owns, watched through the runtime's set. Dropping it
/// frees the slot; the entry itself goes when the library closes the socket.
pub(crate) struct Watch {
    mux: Arc<Mux>,
    index: u32,
    gen: u32,
    /// The library's fd number.
    pub(crate) of: RawFd,
}

/// Readiness seen by [`Watch::poll_read_ready`] / [`Watch::poll_write_ready`];
/// [`clear_ready`](Self::clear_ready) forgets it if no event came since.
pub(crate) struct Ready<'a> {
    watch: &'a Watch,
    dir: u8,
    tick: u32,
}

impl Ready<'_> {
    /// The operation hit `EAGAIN` in this direction: wait for the next event.
    pub(crate) fn clear_ready(&mut self) {
        let w = self.watch;
        let mut table = w.mux.lock();
        let slot = &mut table.slots[w.index as usize];
        if slot.gen == w.gen && slot.tick == self.tick {
            slot.ready &= !(self.dir & !slot.closed);
        }
    }
}

impl Watch {
    /// Watch the library's socket `fd` on the current runtime.
    pub(crate) fn new(fd: RawFd) -> io::Result<Watch> {
        let mux = Mux::current()?;
        let (index, gen) = {
            let mut table = mux.lock();
            let index = match table.free.pop() {
                Some(i) => i,
                None => {
                    table.slots.push(Slot::default());
                    (table.slots.len() - 1) as u32
                }
            };
            let slot = &mut table.slots[index as usize];
            slot.live = true;
            slot.ready = 0;
            slot.closed = 0;
            (index, slot.gen)
        };
        let watch = Watch {
            mux,
            index,
            gen,
            of: fd,
        };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token(index, gen),
        };
        let ep = watch.mux.ep.as_raw_fd();
        // SAFETY: `ep` is our epoll set and `fd` the library's open socket during
        // this call; `ev` is a valid event. The kernel keeps no reference to `ev`.
        let mut r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
            // The same open socket, watched before (and never removed by number):
            // point its entry at the new slot. MOD also reports its current state.
            // SAFETY: as above.
            r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_MOD, fd, &mut ev) };
        }
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(watch)
    }

    fn poll_ready(&self, dir: u8, cx: &mut Context<'_>) -> Poll<io::Result<Ready<'_>>> {
        let mut table = self.mux.lock();
        let slot = &mut table.slots[self.index as usize];
        if slot.ready & dir != 0 {
            return Poll::Ready(Ok(Ready {
                watch: self,
                dir,
                tick: slot.tick,
            }));
        }
        let waker = if dir == READ {
            &mut slot.read
        } else {
            &mut slot.write
        };
        match waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Ready for reading (or closed, or failed), else register the task's waker.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready<'_>>> {
        self.poll_ready(READ, cx)
    }

    /// Ready for writing (or closed, or failed), else register the task's waker.
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready<'_>>> {
        self.poll_ready(WRITE, cx)
    }

    /// Wait until readable.
    pub(crate) async fn readable(&self) -> io::Result<Ready<'_>> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }
}

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.of
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut table = self.mux.lock();
        let slot = &mut table.slots[self.index as usize];
        slot.gen = slot.gen.wrapping_add(1);
        slot.live = false;
        slot.ready = 0;
        slot.closed = 0;
        slot.read = None;
        slot.write = None;
        table.free.push(self.index);
    }
}
