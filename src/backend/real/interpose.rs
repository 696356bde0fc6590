//! Interposition of the C library for driver code (Linux, ELF, 64-bit).
//!
//! A driver binary blocks, sleeps, reads the clock and starts threads through the C library. To
//! put those under the deterministic scheduler, the loader rewrites the driver library's own
//! import slots (its GOT: the `JUMP_SLOT` and `GLOB_DAT` relocations naming the functions below)
//! to point at the hooks of this module. Only the driver library's calls are redirected: the C
//! library itself, the simulator and every other library keep calling the real functions, and
//! no `LD_PRELOAD` or relinking is needed. A call the driver makes through another library (a
//! helper `.so` that sleeps) is not redirected.
//!
//! Every hook first asks whether the calling OS thread is one of the bridge's real threads (a
//! thread running a DDI, a callback's nested call, or a thread the driver created through
//! `pthread_create`). If not (the loader's own thread calling the query export, a thread the
//! driver made some other way), it calls the real function. If so, the call becomes a request
//! to the simulated thread that owns the real thread (see `bridge`):
//!
//! - `pthread_create` creates a simulated thread named after the start routine; `pthread_join`,
//!   `pthread_detach`, `pthread_exit` act on it;
//! - `nanosleep`, `clock_nanosleep`, `usleep`, `sleep` sleep in virtual time; `clock_gettime`,
//!   `gettimeofday`, `time` read virtual time;
//! - a `pthread_mutex_lock`, `pthread_rwlock_rdlock`/`wrlock`, `pthread_spin_lock` or `sem_wait`
//!   that would block, `pthread_cond_wait`/`timedwait`, `signal`, `broadcast`, `sched_yield` are
//!   simulated waits and wake-ups; every unlock (and `sem_post`) is a release and every lock
//!   taken (and `sem_wait`), `try` forms included, an acquire of the object in the scheduler's
//!   vector clocks, contended or not (the race check's happens-before, see
//!   `kernel::check_accesses`);
//! - `send`/`write`/`recv`/`read`/`poll`/`select`/`close` on the RTSP socket go to the OS
//!   model's RTSP link; on other descriptors they are real, and a read or poll that would block
//!   waits in the simulator until another simulated thread writes a descriptor or time passes.
//!
//! A library built for the race check (it imports `MiracastSimTsanAccess`, see
//! `include/miracast_sim_race.h`) also has `malloc`, `calloc`, `realloc`, `free`,
//! `posix_memalign` and `aligned_alloc` redirected: the hook calls the real function, then, on a
//! bridge thread, tells the race check the block is the driver's (or is given back), so that
//! a UMD's heap state is checked and a block reused after `free` has no history. Other
//! libraries keep the C library's allocator untouched.
//!
//! The same rewriting binds a KMD's kernel routines (`include/wdm.h`), which the header declares
//! weak and leaves undefined, to `kernel`'s entry points (see `kernel::routines`).

#![allow(unsafe_code)]

use super::bridge::{HookReply, HookRequest, hook_call, hook_shared, is_bridge_pthread};
use super::kernel::{DriverRole, RaceEvent, note_race_event};
use libc::{c_char, c_int, c_uint, c_void, size_t, ssize_t};
use std::time::Duration;

// The bridge serves `poll` events with these bit values; the hooks pass the C library's through.
const _: () = assert!(libc::POLLIN == 0x1 && libc::POLLOUT == 0x4 && libc::POLLHUP == 0x10);

/// Seconds added to virtual time for `CLOCK_REALTIME` (2023-11-14T22:13:20Z): a fixed, plausible
/// wall-clock date, so that a run never depends on the day it runs.
const REALTIME_EPOCH_S: u64 = 1_700_000_000;
/// Seconds added to virtual time for `CLOCK_MONOTONIC` (a machine up for a while).
const MONOTONIC_EPOCH_S: u64 = 1_000;

#[repr(C)]
struct LinkMap {
    l_addr: usize,
    l_name: *const c_char,
    l_ld: *const Dyn,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Dyn {
    d_tag: i64,
    d_val: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Rela {
    r_offset: u64,
    r_info: u64,
    r_addend: i64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Sym {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: u64,
    st_size: u64,
}

const DT_NULL: i64 = 0;
const DT_PLTRELSZ: i64 = 2;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_RELA: i64 = 7;
const DT_RELASZ: i64 = 8;
const DT_JMPREL: i64 = 23;

#[cfg(target_arch = "x86_64")]
const SLOT_TYPES: [u32; 2] = [6, 7]; // R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT
#[cfg(target_arch = "aarch64")]
const SLOT_TYPES: [u32; 2] = [1025, 1026]; // R_AARCH64_GLOB_DAT, R_AARCH64_JUMP_SLOT

/// The functions redirected, by the name the driver imports.
fn hooks() -> [(&'static str, usize); 42] {
    [
        ("pthread_create", hook_pthread_create as *const () as usize),
        ("pthread_join", hook_pthread_join as *const () as usize),
        ("pthread_detach", hook_pthread_detach as *const () as usize),
        ("pthread_exit", hook_pthread_exit as *const () as usize),
        (
            "pthread_mutex_lock",
            hook_pthread_mutex_lock as *const () as usize,
        ),
        (
            "pthread_mutex_trylock",
            hook_pthread_mutex_trylock as *const () as usize,
        ),
        (
            "pthread_mutex_unlock",
            hook_pthread_mutex_unlock as *const () as usize,
        ),
        (
            "pthread_rwlock_rdlock",
            hook_pthread_rwlock_rdlock as *const () as usize,
        ),
        (
            "pthread_rwlock_wrlock",
            hook_pthread_rwlock_wrlock as *const () as usize,
        ),
        (
            "pthread_rwlock_tryrdlock",
            hook_pthread_rwlock_tryrdlock as *const () as usize,
        ),
        (
            "pthread_rwlock_trywrlock",
            hook_pthread_rwlock_trywrlock as *const () as usize,
        ),
        (
            "pthread_rwlock_unlock",
            hook_pthread_rwlock_unlock as *const () as usize,
        ),
        (
            "pthread_spin_lock",
            hook_pthread_spin_lock as *const () as usize,
        ),
        (
            "pthread_spin_trylock",
            hook_pthread_spin_trylock as *const () as usize,
        ),
        (
            "pthread_spin_unlock",
            hook_pthread_spin_unlock as *const () as usize,
        ),
        ("sem_wait", hook_sem_wait as *const () as usize),
        ("sem_trywait", hook_sem_trywait as *const () as usize),
        ("sem_post", hook_sem_post as *const () as usize),
        (
            "pthread_cond_wait",
            hook_pthread_cond_wait as *const () as usize,
        ),
        (
            "pthread_cond_timedwait",
            hook_pthread_cond_timedwait as *const () as usize,
        ),
        (
            "pthread_cond_signal",
            hook_pthread_cond_signal as *const () as usize,
        ),
        (
            "pthread_cond_broadcast",
            hook_pthread_cond_broadcast as *const () as usize,
        ),
        ("sched_yield", hook_sched_yield as *const () as usize),
        ("nanosleep", hook_nanosleep as *const () as usize),
        (
            "clock_nanosleep",
            hook_clock_nanosleep as *const () as usize,
        ),
        ("usleep", hook_usleep as *const () as usize),
        ("sleep", hook_sleep as *const () as usize),
        ("clock_gettime", hook_clock_gettime as *const () as usize),
        ("gettimeofday", hook_gettimeofday as *const () as usize),
        ("time", hook_time as *const () as usize),
        ("poll", hook_poll as *const () as usize),
        ("__poll_chk", hook_poll_chk as *const () as usize),
        ("select", hook_select as *const () as usize),
        ("recv", hook_recv as *const () as usize),
        ("__recv_chk", hook_recv_chk as *const () as usize),
        ("recvfrom", hook_recvfrom as *const () as usize),
        ("read", hook_read as *const () as usize),
        ("__read_chk", hook_read_chk as *const () as usize),
        ("send", hook_send as *const () as usize),
        ("sendto", hook_sendto as *const () as usize),
        ("write", hook_write as *const () as usize),
        ("close", hook_close as *const () as usize),
    ]
}

/// The allocator of a library built for the race check, whose blocks belong to `UMD`'s side
/// (`true`: the UMD, `false`: the KMD).
fn heap_hooks<const UMD: bool>() -> [(&'static str, usize); 6] {
    [
        ("malloc", hook_malloc::<UMD> as *const () as usize),
        ("calloc", hook_calloc::<UMD> as *const () as usize),
        ("realloc", hook_realloc::<UMD> as *const () as usize),
        ("free", hook_free as *const () as usize),
        (
            "posix_memalign",
            hook_posix_memalign::<UMD> as *const () as usize,
        ),
        (
            "aligned_alloc",
            hook_aligned_alloc::<UMD> as *const () as usize,
        ),
    ]
}

/// The import a race-check build has (`include/miracast_sim_race.h`).
const RACE_CHECK_IMPORT: &str = "MiracastSimTsanAccess";

/// Redirects the imports of the library behind the `dlopen` handle `handle`, the driver of
/// `role`. Returns how many import slots now point at a hook.
///
/// # Errors
/// A sentence when the library's dynamic section cannot be read.
pub(crate) fn install(handle: *mut c_void, role: DriverRole) -> Result<usize, String> {
    let mut map: *mut LinkMap = std::ptr::null_mut();
    // SAFETY: `handle` is a live dlopen handle; RTLD_DI_LINKMAP stores a `struct link_map *`,
    // whose first three members (l_addr, l_name, l_ld) `LinkMap` mirrors.
    let rc = unsafe {
        libc::dlinfo(
            handle,
            libc::RTLD_DI_LINKMAP,
            (&mut map as *mut *mut LinkMap).cast(),
        )
    };
    if rc != 0 || map.is_null() {
        return Err("dlinfo(RTLD_DI_LINKMAP) failed".to_owned());
    }
    // SAFETY: the loader's link map entry for a loaded object stays valid while it is loaded.
    let (base, dynamic) = unsafe { ((*map).l_addr, (*map).l_ld) };
    if dynamic.is_null() {
        return Err("the library has no dynamic section".to_owned());
    }
    // The loader may or may not have relocated the pointers in the dynamic section in place.
    let addr = |v: u64| -> usize {
        let v = v as usize;
        if v < base { v + base } else { v }
    };
    let (mut strtab, mut symtab, mut rela, mut relasz, mut jmprel, mut pltrelsz) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut i = 0;
    loop {
        // SAFETY: the dynamic section is an array of `Dyn` ended by DT_NULL.
        let d = unsafe { *dynamic.add(i) };
        match d.d_tag {
            DT_NULL => break,
            DT_STRTAB => strtab = addr(d.d_val),
            DT_SYMTAB => symtab = addr(d.d_val),
            DT_RELA => rela = addr(d.d_val),
            DT_RELASZ => relasz = d.d_val as usize,
            DT_JMPREL => jmprel = addr(d.d_val),
            DT_PLTRELSZ => pltrelsz = d.d_val as usize,
            _ => {}
        }
        i += 1;
    }
    if strtab == 0 || symtab == 0 {
        return Err("the library has no dynamic symbol table".to_owned());
    }
    // Every import slot, by name.
    let mut slots: Vec<(usize, &str)> = Vec::new();
    for (start, size) in [(rela, relasz), (jmprel, pltrelsz)] {
        if start == 0 {
            continue;
        }
        let count = size / std::mem::size_of::<Rela>();
        for k in 0..count {
            // SAFETY: DT_RELA/DT_JMPREL point to arrays of `size` bytes of Elf64_Rela.
            let r = unsafe { *(start as *const Rela).add(k) };
            let (kind, sym) = ((r.r_info & 0xffff_ffff) as u32, (r.r_info >> 32) as usize);
            if !SLOT_TYPES.contains(&kind) || sym == 0 {
                continue;
            }
            // SAFETY: `sym` indexes the dynamic symbol table the relocation refers to.
            let s = unsafe { *(symtab as *const Sym).add(sym) };
            // SAFETY: `st_name` is an offset into the NUL-terminated string table, which stays
            // mapped while the library is loaded (this function's whole run).
            let name =
                unsafe { std::ffi::CStr::from_ptr((strtab + s.st_name as usize) as *const c_char) };
            let Ok(name) = name.to_str() else { continue };
            slots.push((base + r.r_offset as usize, name));
        }
    }
    // The C library calls, the allocator of a race-check build, then the kernel routines of
    // `include/wdm.h` (`kernel`).
    let mut table: Vec<(&str, usize)> = hooks().to_vec();
    if slots.iter().any(|(_, n)| *n == RACE_CHECK_IMPORT) {
        match role {
            DriverRole::Umd => table.extend(heap_hooks::<true>()),
            DriverRole::Kmd => table.extend(heap_hooks::<false>()),
        }
    }
    table.extend(super::kernel::routines());
    let mut patched = 0;
    for (slot, name) in slots {
        let Some((_, hook)) = table.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        make_writable(slot)?;
        // SAFETY: `slot` is the library's GOT entry for `name`, now writable; a pointer-sized
        // aligned store of a function with the same C signature.
        unsafe { std::ptr::write_volatile(slot as *mut usize, *hook) };
        patched += 1;
    }
    Ok(patched)
}

fn make_writable(slot: usize) -> Result<(), String> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let start = slot & !(page - 1);
    // SAFETY: the page holds the library's GOT (mapped, owned by the loader); making it
    // writable only allows the store that follows.
    let rc = unsafe {
        libc::mprotect(
            start as *mut c_void,
            page,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot make the import table writable: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// The name of the function at `address` (`dladdr`), or `library+0xOFFSET` for a function the
/// library does not export.
pub(crate) fn symbol_name(address: usize) -> String {
    // SAFETY: Dl_info is plain data; all-zero is a valid "nothing found".
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables for `address`.
    let found = unsafe { libc::dladdr(address as *const c_void, &mut info) } != 0;
    if !found {
        return format!("{address:#x}");
    }
    if !info.dli_sname.is_null() && info.dli_saddr as usize == address {
        // SAFETY: a non-NULL dli_sname is a NUL-terminated symbol name.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_sname) };
        return name.to_string_lossy().into_owned();
    }
    let file = if info.dli_fname.is_null() {
        "?".to_owned()
    } else {
        // SAFETY: a non-NULL dli_fname is a NUL-terminated path.
        let path = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        let path = path.to_string_lossy();
        path.rsplit('/').next().unwrap_or_default().to_owned()
    };
    format!("{file}+{:#x}", address - info.dli_fbase as usize)
}

// ---- helpers ----------------------------------------------------------------------------------

fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn on_bridge() -> bool {
    hook_shared().is_some()
}

fn duration_of(ts: &libc::timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Virtual now in the given clock, or `None` for a clock that is not virtualized.
fn now_in(clock: libc::clockid_t) -> Option<Duration> {
    let shared = hook_shared()?;
    let now = Duration::from_micros(shared.now_us());
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE => {
            Some(now + Duration::from_secs(REALTIME_EPOCH_S))
        }
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_BOOTTIME => Some(now + Duration::from_secs(MONOTONIC_EPOCH_S)),
        _ => None,
    }
}

/// How long until the absolute `deadline` of a condition wait: its clock is not visible in the
/// opaque `pthread_cond_t`, so a deadline past 2001 is taken as `CLOCK_REALTIME` (the default),
/// an earlier one as `CLOCK_MONOTONIC`.
fn until(deadline: &libc::timespec) -> Option<Duration> {
    let d = duration_of(deadline)?;
    let clock = if deadline.tv_sec >= 1_000_000_000 {
        libc::CLOCK_REALTIME
    } else {
        libc::CLOCK_MONOTONIC
    };
    let now = now_in(clock)?;
    Some(d.saturating_sub(now))
}

fn sleep_for(d: Duration) {
    let _ = hook_call(HookRequest::Sleep {
        micros: d.as_micros().min(u128::from(u64::MAX)) as u64,
    });
}

fn is_rtsp(fd: c_int) -> bool {
    hook_shared().is_some_and(|s| s.is_rtsp(fd))
}

fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL only reads descriptor flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags != -1 && flags & libc::O_NONBLOCK != 0
}

fn receive_timeout(fd: c_int) -> Option<u64> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: SO_RCVTIMEO reads a timeval into `tv` of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if rc != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Some(tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64)
}

/// Receives from the RTSP link into `buf`.
fn rtsp_recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    let request = HookRequest::SocketRecv {
        fd,
        max: len,
        peek: flags & libc::MSG_PEEK != 0,
        nonblocking: flags & libc::MSG_DONTWAIT != 0 || nonblocking(fd),
        timeout_us: receive_timeout(fd),
    };
    match hook_call(request) {
        HookReply::Bytes(bytes) => {
            let n = bytes.len().min(len);
            if n > 0 && !buf.is_null() {
                // SAFETY: the driver passed a buffer of `len` bytes; `n <= len`.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n) };
            }
            n as ssize_t
        }
        HookReply::Errno(e) => {
            set_errno(e);
            -1
        }
        _ => {
            set_errno(libc::EIO);
            -1
        }
    }
}

fn rtsp_send(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if buf.is_null() && len > 0 {
        set_errno(libc::EFAULT);
        return -1;
    }
    let bytes = if len == 0 {
        Vec::new()
    } else {
        // SAFETY: the driver passed a buffer of `len` bytes (checked non-NULL above).
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec()
    };
    match hook_call(HookRequest::SocketSend { fd, bytes }) {
        HookReply::Value(n) => n as ssize_t,
        HookReply::Errno(e) => {
            set_errno(e);
            -1
        }
        _ => {
            set_errno(libc::EIO);
            -1
        }
    }
}

/// Before a real read of a descriptor that is not the RTSP socket: if it would block, wait in
/// the simulator until it is readable.
fn wait_readable(fd: c_int) {
    if nonblocking(fd) {
        return;
    }
    let _ = simulated_poll(vec![(fd, libc::POLLIN)], None);
}

/// Tells the simulator a descriptor was written (a pipe or eventfd another simulated thread may
/// wait for).
fn note_write() {
    if hook_shared().is_some_and(|s| s.has_fd_waiters()) {
        let _ = hook_call(HookRequest::FdActivity);
    }
}

fn simulated_poll(fds: Vec<(c_int, i16)>, timeout_us: Option<u64>) -> Option<Vec<i16>> {
    match hook_call(HookRequest::Poll { fds, timeout_us }) {
        HookReply::Revents(r) => Some(r),
        _ => None,
    }
}

// ---- threads ------------------------------------------------------------------------------------

type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

unsafe extern "C" fn hook_pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    if !on_bridge() {
        let Some(start) = start else {
            return libc::EINVAL;
        };
        // SAFETY: the driver's own arguments, passed on unchanged.
        return unsafe { libc::pthread_create(thread, attr, start, arg) };
    }
    let Some(start) = start else {
        return libc::EINVAL;
    };
    match hook_call(HookRequest::Spawn {
        routine: start,
        arg: arg as usize,
    }) {
        HookReply::Value(id) => {
            if !thread.is_null() {
                // SAFETY: `thread` points to the driver's pthread_t.
                unsafe { *thread = id as libc::pthread_t };
            }
            0
        }
        HookReply::Errno(e) => e,
        _ => libc::EAGAIN,
    }
}

unsafe extern "C" fn hook_pthread_join(thread: libc::pthread_t, value: *mut *mut c_void) -> c_int {
    if on_bridge() {
        match hook_call(HookRequest::Join { thread }) {
            HookReply::Value(v) => {
                if !value.is_null() {
                    // SAFETY: `value` points to the driver's void*.
                    unsafe { *value = v as *mut c_void };
                }
                return 0;
            }
            HookReply::Errno(e) => return e,
            _ => {}
        }
    } else if is_bridge_pthread(thread) {
        // Outside any run (a library destructor at unload): the simulated thread is over, and
        // its real thread (detached) ends with the run or never returns to the driver; joining
        // it for real would be undefined.
        if !value.is_null() {
            // SAFETY: `value` points to the driver's void*.
            unsafe { *value = std::ptr::null_mut() };
        }
        return 0;
    }
    // SAFETY: the driver's own arguments, passed on unchanged.
    unsafe { libc::pthread_join(thread, value) }
}

unsafe extern "C" fn hook_pthread_detach(thread: libc::pthread_t) -> c_int {
    if on_bridge() {
        match hook_call(HookRequest::Detach { thread }) {
            HookReply::Done => return 0,
            HookReply::Errno(e) => return e,
            _ => {}
        }
    }
    // SAFETY: the driver's own argument, passed on unchanged.
    unsafe { libc::pthread_detach(thread) }
}

unsafe extern "C" fn hook_pthread_exit(value: *mut c_void) -> ! {
    if on_bridge() {
        // The simulated thread ends here; the real thread never returns to the driver.
        let _ = hook_call(HookRequest::Exit {
            value: value as usize,
        });
        loop {
            std::thread::park();
        }
    }
    // SAFETY: the driver's own argument, passed on unchanged.
    unsafe { libc::pthread_exit(value) }
}

/// Takes a lock on a bridge thread without ever blocking the real thread: `try_lock` until it
/// answers other than `busy`; while the lock is held by a simulated thread that is not running,
/// waits in the simulator for a release of `addr`. A lock taken is an acquire of `addr` for the
/// race check.
fn lock_without_blocking(addr: usize, busy: c_int, try_lock: impl Fn() -> c_int) -> c_int {
    loop {
        let rc = try_lock();
        if rc != busy {
            if rc == 0 {
                note_race_event(RaceEvent::Acquired { sync: addr });
            }
            return rc;
        }
        let _ = hook_call(HookRequest::MutexWait { addr });
    }
}

/// A lock taken without waiting (`trylock`): an acquire of `addr` when `rc` says it was taken,
/// whether or not anyone waited (the race check's happens-before).
fn tried(addr: usize, rc: c_int) -> c_int {
    if rc == 0 {
        note_race_event(RaceEvent::Acquired { sync: addr });
    }
    rc
}

/// Releases the lock at `addr`: a release for the race check, published while the lock is still
/// held so that no acquire of it can come first, then `unlock`, then a wake-up of the simulated
/// threads waiting for it.
fn unlock_and_wake(addr: usize, unlock: impl FnOnce() -> c_int) -> c_int {
    note_race_event(RaceEvent::Released { sync: addr });
    let rc = unlock();
    if rc == 0 && hook_shared().is_some_and(|s| s.has_mutex_waiters(addr)) {
        let _ = hook_call(HookRequest::MutexWake { addr });
    }
    rc
}

unsafe extern "C" fn hook_pthread_mutex_lock(m: *mut libc::pthread_mutex_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own mutex.
        return unsafe { libc::pthread_mutex_lock(m) };
    }
    // SAFETY: the driver's own mutex; trylock never blocks.
    lock_without_blocking(m as usize, libc::EBUSY, || unsafe {
        libc::pthread_mutex_trylock(m)
    })
}

unsafe extern "C" fn hook_pthread_mutex_trylock(m: *mut libc::pthread_mutex_t) -> c_int {
    // SAFETY: the driver's own mutex; trylock never blocks.
    tried(m as usize, unsafe { libc::pthread_mutex_trylock(m) })
}

unsafe extern "C" fn hook_pthread_mutex_unlock(m: *mut libc::pthread_mutex_t) -> c_int {
    // SAFETY: the driver's own mutex.
    unlock_and_wake(m as usize, || unsafe { libc::pthread_mutex_unlock(m) })
}

// A read-write lock, a spin lock and a semaphore are locks like a mutex: taken without blocking
// the real thread (the holder may be a simulated thread that is not running, which a real wait
// would deadlock against), and ordered for the race check, a release at unlock or post, an
// acquire at lock or wait (readers included: a read section's writes are ordered like a
// writer's, which can hide a race between two readers that write, never invent one).

unsafe extern "C" fn hook_pthread_rwlock_rdlock(l: *mut libc::pthread_rwlock_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own lock.
        return unsafe { libc::pthread_rwlock_rdlock(l) };
    }
    // SAFETY: the driver's own lock; tryrdlock never blocks.
    lock_without_blocking(l as usize, libc::EBUSY, || unsafe {
        libc::pthread_rwlock_tryrdlock(l)
    })
}

unsafe extern "C" fn hook_pthread_rwlock_wrlock(l: *mut libc::pthread_rwlock_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own lock.
        return unsafe { libc::pthread_rwlock_wrlock(l) };
    }
    // SAFETY: the driver's own lock; trywrlock never blocks.
    lock_without_blocking(l as usize, libc::EBUSY, || unsafe {
        libc::pthread_rwlock_trywrlock(l)
    })
}

unsafe extern "C" fn hook_pthread_rwlock_tryrdlock(l: *mut libc::pthread_rwlock_t) -> c_int {
    // SAFETY: the driver's own lock; tryrdlock never blocks.
    tried(l as usize, unsafe { libc::pthread_rwlock_tryrdlock(l) })
}

unsafe extern "C" fn hook_pthread_rwlock_trywrlock(l: *mut libc::pthread_rwlock_t) -> c_int {
    // SAFETY: the driver's own lock; trywrlock never blocks.
    tried(l as usize, unsafe { libc::pthread_rwlock_trywrlock(l) })
}

unsafe extern "C" fn hook_pthread_rwlock_unlock(l: *mut libc::pthread_rwlock_t) -> c_int {
    // SAFETY: the driver's own lock.
    unlock_and_wake(l as usize, || unsafe { libc::pthread_rwlock_unlock(l) })
}

unsafe extern "C" fn hook_pthread_spin_lock(l: *mut libc::pthread_spinlock_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own lock.
        return unsafe { libc::pthread_spin_lock(l) };
    }
    // SAFETY: the driver's own lock; trylock never spins.
    lock_without_blocking(l as usize, libc::EBUSY, || unsafe {
        libc::pthread_spin_trylock(l)
    })
}

unsafe extern "C" fn hook_pthread_spin_trylock(l: *mut libc::pthread_spinlock_t) -> c_int {
    // SAFETY: the driver's own lock; trylock never spins.
    tried(l as usize, unsafe { libc::pthread_spin_trylock(l) })
}

unsafe extern "C" fn hook_pthread_spin_unlock(l: *mut libc::pthread_spinlock_t) -> c_int {
    // SAFETY: the driver's own lock.
    unlock_and_wake(l as usize, || unsafe { libc::pthread_spin_unlock(l) })
}

/// `sem_trywait` as a lock attempt: 0 when it took a unit, `EAGAIN` when there was none, other
/// errors as the C library set them (`errno` stays set for the caller).
fn sem_try(s: *mut libc::sem_t) -> c_int {
    // SAFETY: the driver's own semaphore; sem_trywait never blocks.
    if unsafe { libc::sem_trywait(s) } == 0 {
        0
    } else {
        errno()
    }
}

unsafe extern "C" fn hook_sem_wait(s: *mut libc::sem_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own semaphore.
        return unsafe { libc::sem_wait(s) };
    }
    match lock_without_blocking(s as usize, libc::EAGAIN, || sem_try(s)) {
        0 => 0,
        e => {
            set_errno(e);
            -1
        }
    }
}

unsafe extern "C" fn hook_sem_trywait(s: *mut libc::sem_t) -> c_int {
    match tried(s as usize, sem_try(s)) {
        0 => 0,
        e => {
            set_errno(e);
            -1
        }
    }
}

unsafe extern "C" fn hook_sem_post(s: *mut libc::sem_t) -> c_int {
    // SAFETY: the driver's own semaphore.
    unlock_and_wake(s as usize, || unsafe { libc::sem_post(s) })
}

fn cond_wait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
    timeout: Option<Duration>,
) -> c_int {
    // SAFETY: the caller holds `m`, as pthread_cond_wait requires.
    let rc = unsafe { hook_pthread_mutex_unlock(m) };
    if rc != 0 {
        return rc;
    }
    let timed_out = matches!(
        hook_call(HookRequest::CondWait {
            cond: c as usize,
            timeout_us: timeout.map(|d| d.as_micros().min(u128::from(u64::MAX)) as u64),
        }),
        HookReply::TimedOut
    );
    // SAFETY: re-acquires the caller's mutex, as pthread_cond_wait does before returning.
    let rc = unsafe { hook_pthread_mutex_lock(m) };
    if rc != 0 {
        return rc;
    }
    if timed_out { libc::ETIMEDOUT } else { 0 }
}

unsafe extern "C" fn hook_pthread_cond_wait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::pthread_cond_wait(c, m) };
    }
    cond_wait(c, m, None)
}

unsafe extern "C" fn hook_pthread_cond_timedwait(
    c: *mut libc::pthread_cond_t,
    m: *mut libc::pthread_mutex_t,
    deadline: *const libc::timespec,
) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::pthread_cond_timedwait(c, m, deadline) };
    }
    if deadline.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: a non-NULL deadline points to a timespec.
    let Some(left) = until(unsafe { &*deadline }) else {
        return libc::EINVAL;
    };
    cond_wait(c, m, Some(left))
}

unsafe extern "C" fn hook_pthread_cond_signal(c: *mut libc::pthread_cond_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own condition variable.
        return unsafe { libc::pthread_cond_signal(c) };
    }
    let _ = hook_call(HookRequest::CondWake {
        cond: c as usize,
        all: false,
    });
    0
}

unsafe extern "C" fn hook_pthread_cond_broadcast(c: *mut libc::pthread_cond_t) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own condition variable.
        return unsafe { libc::pthread_cond_broadcast(c) };
    }
    let _ = hook_call(HookRequest::CondWake {
        cond: c as usize,
        all: true,
    });
    0
}

unsafe extern "C" fn hook_sched_yield() -> c_int {
    if on_bridge() {
        let _ = hook_call(HookRequest::Yield);
        return 0;
    }
    // SAFETY: no arguments.
    unsafe { libc::sched_yield() }
}

// ---- the heap of a race-check build ---------------------------------------------------------

fn role_of<const UMD: bool>() -> DriverRole {
    if UMD {
        DriverRole::Umd
    } else {
        DriverRole::Kmd
    }
}

/// Tells the race check that the driver now owns `bytes` at `p` (nothing for NULL, or off the
/// bridge: a block the simulator did not see allocated is never checked).
fn allocated<const UMD: bool>(p: *mut c_void, bytes: usize) {
    if !p.is_null() {
        note_race_event(RaceEvent::HeapAllocated {
            addr: p as usize,
            bytes,
            role: role_of::<UMD>(),
        });
    }
}

fn freed(p: *mut c_void) {
    if !p.is_null() {
        note_race_event(RaceEvent::HeapFreed { addr: p as usize });
    }
}

unsafe extern "C" fn hook_malloc<const UMD: bool>(bytes: size_t) -> *mut c_void {
    // SAFETY: the driver's own call, passed on unchanged.
    let p = unsafe { libc::malloc(bytes) };
    allocated::<UMD>(p, bytes);
    p
}

unsafe extern "C" fn hook_calloc<const UMD: bool>(count: size_t, size: size_t) -> *mut c_void {
    // SAFETY: the driver's own call, passed on unchanged.
    let p = unsafe { libc::calloc(count, size) };
    allocated::<UMD>(p, count.saturating_mul(size));
    p
}

unsafe extern "C" fn hook_realloc<const UMD: bool>(old: *mut c_void, bytes: size_t) -> *mut c_void {
    // SAFETY: the driver's own call, passed on unchanged.
    let p = unsafe { libc::realloc(old, bytes) };
    // The old block is gone when a new one came back, or when a zero size freed it; a failed
    // resize leaves it as it was.
    if !p.is_null() || bytes == 0 {
        freed(old);
    }
    allocated::<UMD>(p, bytes);
    p
}

unsafe extern "C" fn hook_free(p: *mut c_void) {
    freed(p);
    // SAFETY: the driver's own call, passed on unchanged.
    unsafe { libc::free(p) }
}

unsafe extern "C" fn hook_posix_memalign<const UMD: bool>(
    out: *mut *mut c_void,
    alignment: size_t,
    bytes: size_t,
) -> c_int {
    // SAFETY: the driver's own call, passed on unchanged.
    let rc = unsafe { libc::posix_memalign(out, alignment, bytes) };
    if rc == 0 && !out.is_null() {
        // SAFETY: on success posix_memalign stored the block in the driver's `*out`.
        allocated::<UMD>(unsafe { *out }, bytes);
    }
    rc
}

unsafe extern "C" fn hook_aligned_alloc<const UMD: bool>(
    alignment: size_t,
    bytes: size_t,
) -> *mut c_void {
    // SAFETY: the driver's own call, passed on unchanged.
    let p = unsafe { libc::aligned_alloc(alignment, bytes) };
    allocated::<UMD>(p, bytes);
    p
}

// ---- time -----------------------------------------------------------------------------------

unsafe extern "C" fn hook_nanosleep(req: *const libc::timespec, rem: *mut libc::timespec) -> c_int {
    if !on_bridge() {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::nanosleep(req, rem) };
    }
    if req.is_null() {
        set_errno(libc::EFAULT);
        return -1;
    }
    // SAFETY: a non-NULL request points to a timespec.
    let Some(d) = duration_of(unsafe { &*req }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    sleep_for(d);
    if !rem.is_null() {
        // SAFETY: a non-NULL remainder points to a timespec.
        unsafe {
            *rem = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}

unsafe extern "C" fn hook_clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const libc::timespec,
    rem: *mut libc::timespec,
) -> c_int {
    if !on_bridge() || now_in(clock).is_none() {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::clock_nanosleep(clock, flags, req, rem) };
    }
    if req.is_null() {
        return libc::EFAULT;
    }
    // SAFETY: a non-NULL request points to a timespec.
    let Some(d) = duration_of(unsafe { &*req }) else {
        return libc::EINVAL;
    };
    let d = if flags & libc::TIMER_ABSTIME != 0 {
        d.saturating_sub(now_in(clock).unwrap_or_default())
    } else {
        d
    };
    sleep_for(d);
    0
}

unsafe extern "C" fn hook_usleep(us: libc::useconds_t) -> c_int {
    if !on_bridge() {
        // SAFETY: plain argument.
        return unsafe { libc::usleep(us) };
    }
    sleep_for(Duration::from_micros(u64::from(us)));
    0
}

unsafe extern "C" fn hook_sleep(s: c_uint) -> c_uint {
    if !on_bridge() {
        // SAFETY: plain argument.
        return unsafe { libc::sleep(s) };
    }
    sleep_for(Duration::from_secs(u64::from(s)));
    0
}

unsafe extern "C" fn hook_clock_gettime(clock: libc::clockid_t, ts: *mut libc::timespec) -> c_int {
    match now_in(clock) {
        Some(now) if !ts.is_null() => {
            // SAFETY: a non-NULL `ts` points to a timespec.
            unsafe {
                *ts = libc::timespec {
                    tv_sec: now.as_secs() as libc::time_t,
                    tv_nsec: libc::c_long::from(now.subsec_nanos() as i32),
                }
            };
            0
        }
        // SAFETY: the driver's own arguments.
        _ => unsafe { libc::clock_gettime(clock, ts) },
    }
}

unsafe extern "C" fn hook_gettimeofday(tv: *mut libc::timeval, tz: *mut c_void) -> c_int {
    match now_in(libc::CLOCK_REALTIME) {
        Some(now) => {
            if !tv.is_null() {
                // SAFETY: a non-NULL `tv` points to a timeval.
                unsafe {
                    *tv = libc::timeval {
                        tv_sec: now.as_secs() as libc::time_t,
                        tv_usec: libc::suseconds_t::from(now.subsec_micros() as i32),
                    }
                };
            }
            0
        }
        // SAFETY: the driver's own arguments.
        None => unsafe { libc::gettimeofday(tv, tz.cast()) },
    }
}

unsafe extern "C" fn hook_time(t: *mut libc::time_t) -> libc::time_t {
    match now_in(libc::CLOCK_REALTIME) {
        Some(now) => {
            let v = now.as_secs() as libc::time_t;
            if !t.is_null() {
                // SAFETY: a non-NULL `t` points to a time_t.
                unsafe { *t = v };
            }
            v
        }
        // SAFETY: the driver's own argument.
        None => unsafe { libc::time(t) },
    }
}

// ---- descriptors ------------------------------------------------------------------------------

unsafe extern "C" fn hook_poll(
    fds: *mut libc::pollfd,
    n: libc::nfds_t,
    timeout_ms: c_int,
) -> c_int {
    if !on_bridge() || (n > 0 && fds.is_null()) {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::poll(fds, n, timeout_ms) };
    }
    let entries: &mut [libc::pollfd] = if n == 0 {
        &mut []
    } else {
        // SAFETY: the driver passes `n` pollfd entries.
        unsafe { std::slice::from_raw_parts_mut(fds, n as usize) }
    };
    let request: Vec<(c_int, i16)> = entries.iter().map(|p| (p.fd, p.events)).collect();
    let timeout = (timeout_ms >= 0).then(|| u64::from(timeout_ms.unsigned_abs()) * 1_000);
    match simulated_poll(request, timeout) {
        Some(revents) => {
            let mut ready = 0;
            for (p, r) in entries.iter_mut().zip(revents) {
                p.revents = r;
                ready += c_int::from(r != 0);
            }
            ready
        }
        None => {
            set_errno(libc::EINTR);
            -1
        }
    }
}

unsafe extern "C" fn hook_poll_chk(
    fds: *mut libc::pollfd,
    n: libc::nfds_t,
    timeout_ms: c_int,
    _fdslen: size_t,
) -> c_int {
    // SAFETY: the same contract as poll.
    unsafe { hook_poll(fds, n, timeout_ms) }
}

unsafe extern "C" fn hook_select(
    nfds: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    tv: *mut libc::timeval,
) -> c_int {
    if !on_bridge() || !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) {
        // SAFETY: the driver's own arguments.
        return unsafe { libc::select(nfds, r, w, e, tv) };
    }
    let mut request = Vec::new();
    for fd in 0..nfds {
        let mut events = 0i16;
        // SAFETY: non-NULL sets are fd_sets holding at least `nfds` descriptors.
        unsafe {
            if !r.is_null() && libc::FD_ISSET(fd, r) {
                events |= libc::POLLIN;
            }
            if !w.is_null() && libc::FD_ISSET(fd, w) {
                events |= libc::POLLOUT;
            }
            if !e.is_null() && libc::FD_ISSET(fd, e) {
                events |= libc::POLLPRI;
            }
        }
        if events != 0 {
            request.push((fd, events));
        }
    }
    let timeout = if tv.is_null() {
        None
    } else {
        // SAFETY: a non-NULL `tv` points to a timeval.
        let t = unsafe { *tv };
        Some((t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64)
    };
    let Some(revents) = simulated_poll(request.clone(), timeout) else {
        set_errno(libc::EINTR);
        return -1;
    };
    // SAFETY: non-NULL sets are the driver's fd_sets.
    unsafe {
        for set in [r, w, e] {
            if !set.is_null() {
                libc::FD_ZERO(set);
            }
        }
    }
    let mut ready = 0;
    for ((fd, _), got) in request.iter().zip(revents) {
        // SAFETY: as above; `fd < nfds <= FD_SETSIZE`.
        unsafe {
            if !r.is_null() && got & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                libc::FD_SET(*fd, r);
                ready += 1;
            }
            if !w.is_null() && got & libc::POLLOUT != 0 {
                libc::FD_SET(*fd, w);
                ready += 1;
            }
            if !e.is_null() && got & libc::POLLPRI != 0 {
                libc::FD_SET(*fd, e);
                ready += 1;
            }
        }
    }
    ready
}

unsafe extern "C" fn hook_recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if on_bridge() {
        if is_rtsp(fd) {
            return rtsp_recv(fd, buf, len, flags);
        }
        if flags & libc::MSG_DONTWAIT == 0 {
            wait_readable(fd);
        }
    }
    // SAFETY: the driver's own arguments.
    unsafe { libc::recv(fd, buf, len, flags) }
}

unsafe extern "C" fn hook_recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the same contract as recv, within the buffer's real size.
    unsafe { hook_recv(fd, buf, len.min(buflen), flags) }
}

unsafe extern "C" fn hook_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut libc::sockaddr,
    addrlen: *mut libc::socklen_t,
) -> ssize_t {
    if on_bridge() {
        if is_rtsp(fd) {
            if !addrlen.is_null() {
                // SAFETY: a connected stream socket reports no source address.
                unsafe { *addrlen = 0 };
            }
            return rtsp_recv(fd, buf, len, flags);
        }
        if flags & libc::MSG_DONTWAIT == 0 {
            wait_readable(fd);
        }
    }
    // SAFETY: the driver's own arguments.
    unsafe { libc::recvfrom(fd, buf, len, flags, addr, addrlen) }
}

unsafe extern "C" fn hook_read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if on_bridge() {
        if is_rtsp(fd) {
            return rtsp_recv(fd, buf, len, 0);
        }
        wait_readable(fd);
    }
    // SAFETY: the driver's own arguments.
    unsafe { libc::read(fd, buf, len) }
}

unsafe extern "C" fn hook_read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
) -> ssize_t {
    // SAFETY: the same contract as read, within the buffer's real size.
    unsafe { hook_read(fd, buf, len.min(buflen)) }
}

unsafe extern "C" fn hook_send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    if on_bridge() && is_rtsp(fd) {
        return rtsp_send(fd, buf, len);
    }
    // SAFETY: the driver's own arguments.
    let n = unsafe { libc::send(fd, buf, len, flags) };
    let e = errno();
    note_write();
    set_errno(e);
    n
}

unsafe extern "C" fn hook_sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
) -> ssize_t {
    if on_bridge() && is_rtsp(fd) {
        return rtsp_send(fd, buf, len);
    }
    // SAFETY: the driver's own arguments.
    let n = unsafe { libc::sendto(fd, buf, len, flags, addr, addrlen) };
    let e = errno();
    note_write();
    set_errno(e);
    n
}

unsafe extern "C" fn hook_write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if on_bridge() && is_rtsp(fd) {
        return rtsp_send(fd, buf, len);
    }
    // SAFETY: the driver's own arguments.
    let n = unsafe { libc::write(fd, buf, len) };
    let e = errno();
    note_write();
    set_errno(e);
    n
}

unsafe extern "C" fn hook_close(fd: c_int) -> c_int {
    if on_bridge() && is_rtsp(fd) {
        let _ = hook_call(HookRequest::SocketClose { fd });
    }
    // SAFETY: the driver's own descriptor.
    let rc = unsafe { libc::close(fd) };
    let e = errno();
    note_write();
    set_errno(e);
    rc
}
