/*
 * winsock2.h - the Winsock names a Miracast UMD uses, for building its Windows source unchanged
 * against miracast-sim on Linux and macOS.
 *
 * Off Windows, SOCKET (UINT_PTR, from miracast_sim_wintypes.h) carries the POSIX descriptor the
 * simulator hands to StartMiracastSession, and the Winsock calls map onto the C library's:
 * send/recv/select are the same functions; closesocket, ioctlsocket(FIONBIO), WSAPoll,
 * WSAGetLastError and the WSAE* error codes are mapped below. Under miracast-sim the C library's
 * socket, poll and select calls on the RTSP socket are served by the simulator (see README,
 * "Testing your own driver").
 *
 * On Windows this file steps aside for the SDK's own winsock2.h (#include_next, supported by
 * GCC, Clang and MinGW-w64); with MSVC, do not put this directory before the SDK's.
 */
#if defined(_WIN32)
#include_next <winsock2.h>
#else
#ifndef MIRACAST_SIM_WINSOCK2_H
#define MIRACAST_SIM_WINSOCK2_H

#include "miracast_sim_wintypes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* shutdown() directions. */
#ifndef SD_RECEIVE
#define SD_RECEIVE SHUT_RD
#define SD_SEND SHUT_WR
#define SD_BOTH SHUT_RDWR
#endif

/* Error codes WSAGetLastError returns (the POSIX errno values they correspond to). */
#define WSAEINTR EINTR
#define WSAEBADF EBADF
#define WSAEINVAL EINVAL
#define WSAEWOULDBLOCK EWOULDBLOCK
#define WSAEINPROGRESS EINPROGRESS
#define WSAEMSGSIZE EMSGSIZE
#define WSAENOTSOCK ENOTSOCK
#define WSAENOTCONN ENOTCONN
#define WSAESHUTDOWN ESHUTDOWN
#define WSAETIMEDOUT ETIMEDOUT
#define WSAECONNREFUSED ECONNREFUSED
#define WSAECONNABORTED ECONNABORTED
#define WSAECONNRESET ECONNRESET

typedef struct pollfd WSAPOLLFD;

static inline int WSAGetLastError(void) { return errno; }
static inline void WSASetLastError(int error) { errno = error; }
static inline int closesocket(SOCKET s) { return close((int)s); }
static inline int WSAPoll(WSAPOLLFD *fds, unsigned long count, int timeout_ms) {
    return poll(fds, (nfds_t)count, timeout_ms);
}
/* FIONBIO is the one ioctlsocket request a UMD needs: *argp != 0 makes the socket non-blocking. */
static inline int ioctlsocket(SOCKET s, long cmd, unsigned long *argp) {
    if (cmd == (long)FIONBIO && argp != NULL) {
        int flags = fcntl((int)s, F_GETFL);
        if (flags < 0) return SOCKET_ERROR;
        flags = *argp ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
        return fcntl((int)s, F_SETFL, flags) < 0 ? SOCKET_ERROR : 0;
    }
    return ioctl((int)s, (unsigned long)cmd, argp) < 0 ? SOCKET_ERROR : 0;
}

#endif /* MIRACAST_SIM_WINSOCK2_H */
#endif /* _WIN32 */
