//! Platform layer for Windows: `LoadLibraryExW` with the safe search rules, the RTSP socket as
//! a real `SOCKET`, and how a child process died.
//!
//! Winsock is initialized by the standard library the first time it creates a socket
//! (`WSAStartup` inside `std::net`), before the driver receives one.

#![allow(unsafe_code)]

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::windows::io::IntoRawSocket;
use std::path::Path;

/// The `SOCKET` value a driver receives.
pub(crate) type RawSocket = super::ffi::SOCKET;

/// Opens a driver DLL with `LoadLibraryExW`, searching the DLL's own directory and the default
/// directories only (never the current directory).
pub(crate) fn open_library(
    path: &Path,
    _role: super::kernel::DriverRole,
) -> Result<(libloading::Library, Result<usize, String>), String> {
    use libloading::os::windows::{
        LOAD_LIBRARY_SEARCH_DEFAULT_DIRS, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, Library,
    };
    // SAFETY: loading the DLL runs its DllMain; running the driver's code is the purpose of this
    // backend, and a crash there is contained by the isolated child process.
    let lib = unsafe {
        Library::load_with_flags(
            path,
            LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS,
        )
    };
    let lib = lib.map_err(|e| e.to_string())?;
    Ok((
        lib.into(),
        Err("C library interposition is implemented for Linux only".to_owned()),
    ))
}

/// The OS thread id of a real thread.
pub(crate) fn os_thread_id<T>(handle: &std::thread::JoinHandle<T>) -> u64 {
    use std::os::windows::io::AsRawHandle;
    handle.as_raw_handle() as u64
}

/// No interposed descriptors on Windows: nothing to poll.
pub(crate) fn poll_now(_entries: &mut [super::bridge::PollEntry]) {}

/// A connected TCP pair on 127.0.0.1: the driver's end as a raw `SOCKET` (which the caller owns
/// from now on) and the simulator's end.
pub(crate) fn socket_pair() -> io::Result<(RawSocket, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let driver_end = TcpStream::connect(listener.local_addr()?)?;
    let (ours, _) = listener.accept()?;
    ours.set_nonblocking(true)?;
    ours.set_nodelay(true)?;
    driver_end.set_nodelay(true)?;
    Ok((driver_end.into_raw_socket() as RawSocket, ours))
}

/// Whether the driver closed its `SOCKET` cannot be asked without the Winsock API here; the
/// simulator notices through the end of stream on its own side instead.
pub(crate) fn socket_is_open(_socket: RawSocket) -> bool {
    true
}

/// Closes the driver's end after the OS is done with the session.
pub(crate) fn close_socket(socket: RawSocket) {
    use std::os::windows::io::FromRawSocket;
    // SAFETY: the simulator created this socket and closes it once, only when the driver has not
    // closed it (the caller checks).
    drop(unsafe { TcpStream::from_raw_socket(socket as u64) });
}

/// Memory reads of driver buffers are not available on this platform (R26 then relies on the
/// OS touching the simulator's copies only).
pub(crate) fn read_memory(_address: usize, _len: usize) -> Option<Vec<u8>> {
    None
}

/// How a child process ended: `Some((code, name))` for an exception code.
pub(crate) fn death_of(status: &std::process::ExitStatus) -> Option<(i64, String)> {
    let code = status.code()? as u32;
    let name = match code {
        0xC000_0005 => "STATUS_ACCESS_VIOLATION",
        0xC000_00FD => "STATUS_STACK_OVERFLOW",
        0xC000_0409 => "STATUS_STACK_BUFFER_OVERRUN",
        0xC000_001D => "STATUS_ILLEGAL_INSTRUCTION",
        0xC000_0094 => "STATUS_INTEGER_DIVIDE_BY_ZERO",
        0x8000_0003 => "STATUS_BREAKPOINT",
        _ if code >= 0xC000_0000 => "exception",
        _ => return None,
    };
    Some((i64::from(code), format!("{name} ({code:#010X})")))
}
