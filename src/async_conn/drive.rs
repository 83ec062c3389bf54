//! The tokio side of the drive loop: wait on the reactor for the events a
//! suspended operation asks for, then resume it (the C side is `raw/drive.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Sleep;

use crate::error::{Error, ErrorKind, Result};
use crate::raw::drive::{resume, timeout_value};
use crate::raw::ffi;
use crate::raw::op::{Out, Step, WAIT_AGAIN, WAIT_EXCEPT, WAIT_READ, WAIT_TIMEOUT, WAIT_WRITE};
use crate::raw::RawConn;

use super::mux::Watch;

/// Drive the suspended operation on `conn` to completion on the tokio reactor.
///
/// Each round waits for the events the library asked for (readability,
/// writability, its own timeout), then resumes the co-routine with the events that
/// occurred. The readiness guard is held across the `_cont` call: if the library
/// asks again for a direction it was just told was ready, it hit `EAGAIN`, and
/// exactly that readiness is cleared through the guard (tokio checks its tick, so
/// an event that arrived in the meantime is never lost).
///
/// A backend that stopped although the socket still holds bytes for it asks to
/// be resumed at once (`WAIT_AGAIN`; Oracle's client, see `raw/oracle.rs`).
///
/// `timer` holds the library's timeout between polls; it is allocated only when
/// the library asks for a timeout (connect, or configured read/write timeouts).
pub(crate) fn poll_drive(
    io: &Watch,
    conn: &mut RawConn,
    res_for_fetch: *mut ffi::MYSQL_RES,
    timer: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Out>> {
    // Resumes in a row without waiting (`WAIT_AGAIN`), before yielding to the
    // runtime so that one large result does not hold the thread.
    let mut again_budget = 32;
    loop {
        let Some((_, bits)) = conn.suspended() else {
            return Poll::Ready(Err(Error::new(
                ErrorKind::Client,
                "internal: no suspended operation to drive",
            )));
        };
        if bits & WAIT_AGAIN != 0 {
            // The library stopped with bytes still in the socket: their
            // readiness event may be long gone, so resume without waiting.
            if again_budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            again_budget -= 1;
            if let Step::Done(out) = resume(conn, res_for_fetch, bits & WAIT_READ) {
                *timer = None;
                return Poll::Ready(Ok(out));
            }
            continue;
        }
        if bits & WAIT_TIMEOUT != 0 && timer.is_none() {
            *timer = Some(Box::pin(tokio::time::sleep(timeout_value(conn))));
        }
        let mut step = None;
        if bits & WAIT_READ != 0 {
            match io.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    let s = resume(conn, res_for_fetch, WAIT_READ);
                    if let Step::Wait(again) = s {
                        if again & WAIT_READ != 0 {
                            guard.clear_ready();
                        }
                    }
                    step = Some(s);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
        }
        if step.is_none() && bits & (WAIT_WRITE | WAIT_EXCEPT) != 0 {
            match io.poll_write_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    let s = resume(conn, res_for_fetch, bits & (WAIT_WRITE | WAIT_EXCEPT));
                    if let Step::Wait(again) = s {
                        if again & WAIT_WRITE != 0 {
                            guard.clear_ready();
                        }
                    }
                    step = Some(s);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
        }
        if step.is_none() {
            if let Some(t) = timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    step = Some(resume(conn, res_for_fetch, WAIT_TIMEOUT));
                }
            }
        }
        match step {
            None => return Poll::Pending,
            Some(s) => {
                // Every new wait gets a fresh library timeout.
                *timer = None;
                if let Step::Done(out) = s {
                    return Poll::Ready(Ok(out));
                }
            }
        }
    }
}
