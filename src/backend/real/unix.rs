//! Platform layer for Unix-like systems: `dlopen` through libloading, the RTSP socket as a file
//! descriptor, memory reads that cannot fault, and how a child process died.

#![allow(unsafe_code)]

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::path::Path;

/// The `SOCKET` value a driver receives: a connected TCP socket's file descriptor.
pub(crate) type RawSocket = super::ffi::SOCKET;

/// Opens a driver library with `dlopen(RTLD_NOW | RTLD_LOCAL)`: unresolved symbols fail the
/// load at once instead of at the first call. On Linux its C library imports are then
/// interposed (`interpose`; `role` says whose heap blocks a race-check build allocates); the
/// second value says whether that worked (and if not, why).
pub(crate) fn open_library(
    path: &Path,
    role: super::kernel::DriverRole,
) -> Result<(libloading::Library, Result<usize, String>), String> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its initializers; running the driver's code is the purpose
    // of this backend, and a crash there is contained by the isolated child process.
    let lib =
        unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| e.to_string())?;
    #[cfg(target_os = "linux")]
    let (lib, interposed) = {
        let raw = lib.into_raw();
        let interposed = super::interpose::install(raw, role);
        // SAFETY: `raw` came from `into_raw` just above and is handed back once.
        (unsafe { Library::from_raw(raw) }, interposed)
    };
    #[cfg(not(target_os = "linux"))]
    let _ = role;
    #[cfg(not(target_os = "linux"))]
    let interposed = Err("C library interposition is implemented for Linux only".to_owned());
    Ok((lib.into(), interposed))
}

/// The OS thread id of a real thread (its `pthread_t`).
pub(crate) fn os_thread_id<T>(handle: &std::thread::JoinHandle<T>) -> u64 {
    use std::os::unix::thread::JoinHandleExt;
    // `pthread_t` is an integer on Linux and a pointer on macOS.
    #[allow(clippy::unnecessary_cast)]
    let id = handle.as_pthread_t() as u64;
    id
}

/// Polls real descriptors without blocking; sets each entry's `revents`.
pub(crate) fn poll_now(entries: &mut [super::bridge::PollEntry]) {
    if entries.iter().all(|p| p.fd < 0) {
        return;
    }
    let mut fds: Vec<libc::pollfd> = entries
        .iter()
        .map(|e| libc::pollfd {
            fd: e.fd,
            events: e.events,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is an array of `fds.len()` pollfd; a zero timeout never blocks.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    for (e, p) in entries.iter_mut().zip(&fds) {
        e.revents = p.revents;
    }
}

/// A connected TCP pair on 127.0.0.1: the driver's end as a raw descriptor (which the caller
/// owns from now on) and the simulator's end.
pub(crate) fn socket_pair() -> io::Result<(RawSocket, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let driver_end = TcpStream::connect(listener.local_addr()?)?;
    let (ours, _) = listener.accept()?;
    ours.set_nonblocking(true)?;
    ours.set_nodelay(true)?;
    driver_end.set_nodelay(true)?;
    Ok((driver_end.into_raw_fd() as RawSocket, ours))
}

/// True while `socket` is still an open descriptor (`fcntl(F_GETFD)`); false once the driver
/// closed it.
pub(crate) fn socket_is_open(socket: RawSocket) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid descriptor yields EBADF.
    let flags = unsafe { libc::fcntl(socket as libc::c_int, libc::F_GETFD) };
    flags != -1
}

/// Closes the driver's end after the OS is done with the session.
pub(crate) fn close_socket(socket: RawSocket) {
    // SAFETY: the simulator created this descriptor and closes it once, only when the driver has
    // not closed it already (the caller checks).
    unsafe {
        libc::close(socket as libc::c_int);
    }
}

/// Reads `len` bytes of this process's memory at `address` without faulting: `None` when the
/// range is not mapped (`process_vm_readv` on Linux).
#[cfg(target_os = "linux")]
pub(crate) fn read_memory(address: usize, len: usize) -> Option<Vec<u8>> {
    if address == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: the kernel copies from `remote` into `local` and reports EFAULT instead of
    // faulting for unmapped memory; `local` is our own buffer of `len` bytes.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == len as isize).then_some(buf)
}

/// Without `process_vm_readv`, buffer checks are off (R26 is then checked only for buffers the
/// driver reports released through the protocol).
#[cfg(not(target_os = "linux"))]
pub(crate) fn read_memory(_address: usize, _len: usize) -> Option<Vec<u8>> {
    None
}

/// How a child process ended: `Some((signal, name))` when a signal killed it.
pub(crate) fn death_of(status: &std::process::ExitStatus) -> Option<(i64, String)> {
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal()?;
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV (segmentation fault)",
        libc::SIGABRT => "SIGABRT (abort)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGFPE => "SIGFPE (arithmetic fault)",
        libc::SIGKILL => "SIGKILL (killed)",
        libc::SIGTRAP => "SIGTRAP (trap)",
        _ => "signal",
    };
    Some((i64::from(signal), format!("{name}, signal {signal}")))
}
