/*
 * miracast_sim_wintypes.h - the few Windows base types, calling-convention and SAL macros that
 * the miracast-sim headers need, so that a driver's Miracast sources build without the Windows
 * SDK or WDK (for example with gcc on Linux).
 *
 * Written for miracast-sim from the public type definitions (sizes as on 64-bit Windows, LLP64:
 * ULONG is 32 bits, pointers and SIZE_T are 64 bits). Not a copy of any Microsoft header.
 *
 * Rules:
 *   - Every definition is guarded, so this header can be included more than once and next to a
 *     platform SDK that already defines some of the names.
 *   - On Windows (_WIN32) the calling-convention macros expand to __stdcall, which is what the
 *     Rust side's extern "system" means there; elsewhere they are empty (extern "system" is
 *     extern "C" off Windows).
 *   - If the Windows SDK base types are already in scope (minwindef.h / winnt.h were included
 *     first) the base integer typedefs are not repeated.
 *
 * SOCKET: UINT_PTR (64 bits on x64) everywhere, as in winsock2.h, so a UMD's Windows source
 * builds unchanged. Off Windows its value is the POSIX socket descriptor the simulator created;
 * C converts it to int implicitly when the driver hands it to the C library's socket calls.
 * INVALID_SOCKET and SOCKET_ERROR are defined with it. The Rust mirror
 * (src/backend/real/ffi.rs) makes the same choice.
 */
#ifndef MIRACAST_SIM_WINTYPES_H
#define MIRACAST_SIM_WINTYPES_H

#include <stddef.h>
#include <string.h>

#if defined(_MINWINDEF_) || defined(_WINDEF_) || defined(_WINNT_)
#define MIRACAST_SIM_HAVE_SDK_BASE_TYPES 1
#endif

/* ---- Calling conventions -------------------------------------------------------------------- */

#if defined(_WIN32)
#ifndef NTAPI
#define NTAPI __stdcall
#endif
#ifndef APIENTRY
#define APIENTRY __stdcall
#endif
#ifndef CALLBACK
#define CALLBACK __stdcall
#endif
#else
#ifndef NTAPI
#define NTAPI
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#endif

/* ---- SAL annotations (all empty: they only matter to Microsoft's static analysis) ----------- */

#ifndef _In_
#define _In_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _Out_opt_
#define _Out_opt_
#endif
#ifndef _Inout_
#define _Inout_
#endif
#ifndef _Inout_opt_
#define _Inout_opt_
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(size)
#endif
#ifndef _In_reads_bytes_opt_
#define _In_reads_bytes_opt_(size)
#endif
#ifndef _Out_writes_bytes_
#define _Out_writes_bytes_(size)
#endif
#ifndef _Out_writes_bytes_opt_
#define _Out_writes_bytes_opt_(size)
#endif
#ifndef _Out_writes_bytes_to_
#define _Out_writes_bytes_to_(size, count)
#endif
#ifndef _Inout_updates_bytes_
#define _Inout_updates_bytes_(size)
#endif
#ifndef _Field_size_bytes_
#define _Field_size_bytes_(size)
#endif
#ifndef _Check_return_
#define _Check_return_
#endif
#ifndef _Function_class_
#define _Function_class_(name)
#endif
#ifndef _IRQL_requires_
#define _IRQL_requires_(irql)
#endif
#ifndef _IRQL_requires_max_
#define _IRQL_requires_max_(irql)
#endif
#ifndef _Function_class_DXGK_
#define _Function_class_DXGK_(name)
#endif
#ifndef _IRQL_requires_DXGK_
#define _IRQL_requires_DXGK_(irql)
#endif
#ifndef _Field_size_bytes_DXGK_
#define _Field_size_bytes_DXGK_(size)
#endif

/* Old-style parameter annotations and CONST. */
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef OPTIONAL
#define OPTIONAL
#endif
#ifndef CONST
#define CONST const
#endif

/* ---- Base integer and pointer types ---------------------------------------------------------- */

#ifndef MIRACAST_SIM_HAVE_SDK_BASE_TYPES

#ifndef VOID
#define VOID void
#endif

typedef unsigned char UCHAR;
typedef unsigned char BYTE;
typedef unsigned short USHORT;
typedef unsigned short WCHAR;
typedef int INT;
typedef unsigned int UINT;
typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef signed long long LONGLONG;
typedef unsigned long long ULONGLONG;
typedef unsigned long long UINT64;
typedef unsigned long long ULONG64;

/* ULONG/LONG are 32 bits on Windows. On LP64 systems (Linux x86_64) `long` is 64 bits, so use
 * `int` there. */
#if defined(_WIN32)
typedef long LONG;
typedef unsigned long ULONG;
typedef unsigned long DWORD;
#else
typedef int LONG;
typedef unsigned int ULONG;
typedef unsigned int DWORD;
#endif

/* Pointer-sized integers. */
#if defined(_WIN64)
typedef unsigned long long ULONG_PTR;
typedef long long LONG_PTR;
typedef unsigned long long UINT_PTR;
#elif defined(_WIN32)
typedef unsigned long ULONG_PTR;
typedef long LONG_PTR;
typedef unsigned int UINT_PTR;
#else
typedef size_t ULONG_PTR;
typedef ptrdiff_t LONG_PTR;
typedef size_t UINT_PTR;
#endif
typedef ULONG_PTR SIZE_T;

typedef void *PVOID;
typedef void *HANDLE;
typedef HANDLE *PHANDLE;
typedef UCHAR *PUCHAR;
typedef ULONG *PULONG;
typedef UINT *PUINT;

#endif /* !MIRACAST_SIM_HAVE_SDK_BASE_TYPES */

#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif

/* ---- NTSTATUS ------------------------------------------------------------------------------- */

#if !defined(_NTDEF_) && !defined(MIRACAST_SIM_NTSTATUS_DEFINED) && !defined(_NTSTATUS_DEFINED)
#define MIRACAST_SIM_NTSTATUS_DEFINED 1
#if defined(_WIN32)
typedef long NTSTATUS;
#else
typedef int NTSTATUS;
#endif
#endif

#ifndef NT_SUCCESS
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#endif

/* ---- LARGE_INTEGER / PHYSICAL_ADDRESS -------------------------------------------------------- */

#ifndef MIRACAST_SIM_HAVE_SDK_BASE_TYPES
typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
#endif

#if !defined(_WDMDDK_) && !defined(MIRACAST_SIM_PHYSICAL_ADDRESS_DEFINED)
#define MIRACAST_SIM_PHYSICAL_ADDRESS_DEFINED 1
typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;
#endif

/* ---- GUID ------------------------------------------------------------------------------------ */

#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID;
#endif

#ifndef IsEqualGUID
#define IsEqualGUID(a, b) (memcmp(&(a), &(b), sizeof(GUID)) == 0)
#endif

/*
 * DEFINE_GUID follows the Windows convention: it declares the GUID as an extern constant, and
 * defines it when INITGUID is defined (include <initguid.h> first in exactly one source file).
 * MIRACAST_SIM_DEFINE_GUID_DECL / _DEF are the two forms; initguid.h switches DEFINE_GUID to _DEF.
 */
#ifdef __cplusplus
#define MIRACAST_SIM_DEFINE_GUID_DECL(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)               \
    extern "C" const GUID name
#define MIRACAST_SIM_DEFINE_GUID_DEF(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                \
    extern "C" const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else
#define MIRACAST_SIM_DEFINE_GUID_DECL(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)               \
    extern const GUID name
#define MIRACAST_SIM_DEFINE_GUID_DEF(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                \
    const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#endif

#ifndef DEFINE_GUID
#ifdef INITGUID
#define DEFINE_GUID MIRACAST_SIM_DEFINE_GUID_DEF
#else
#define DEFINE_GUID MIRACAST_SIM_DEFINE_GUID_DECL
#endif
#endif

/* ---- IO_STATUS_BLOCK -------------------------------------------------------------------------- */

#if !defined(_WDMDDK_) && !defined(MIRACAST_SIM_IO_STATUS_BLOCK_DEFINED) &&                         \
    !defined(_NTDDK_) && !defined(_WINTERNL_)
#define MIRACAST_SIM_IO_STATUS_BLOCK_DEFINED 1
typedef struct _IO_STATUS_BLOCK {
    union {
        NTSTATUS Status;
        PVOID Pointer;
    };
    ULONG_PTR Information;
} IO_STATUS_BLOCK, *PIO_STATUS_BLOCK;
#endif

/* ---- SOCKET ----------------------------------------------------------------------------------- */

#if !defined(_WINSOCK2API_) && !defined(_WINSOCKAPI_) && !defined(MIRACAST_SIM_SOCKET_DEFINED)
#define MIRACAST_SIM_SOCKET_DEFINED 1
typedef UINT_PTR SOCKET;
#endif
#ifndef INVALID_SOCKET
#define INVALID_SOCKET ((SOCKET)(~0))
#endif
#ifndef SOCKET_ERROR
#define SOCKET_ERROR (-1)
#endif

/* ---- INTERFACE (the standard PnP interface header) ----------------------------------------- */

#if !defined(_WDMDDK_) && !defined(MIRACAST_SIM_INTERFACE_DEFINED)
#define MIRACAST_SIM_INTERFACE_DEFINED 1

/* Takes a reference on the interface. */
typedef VOID (NTAPI *PINTERFACE_REFERENCE)(PVOID Context);
/* Drops a reference taken with PINTERFACE_REFERENCE. */
typedef VOID (NTAPI *PINTERFACE_DEREFERENCE)(PVOID Context);

/* Some Windows SDK headers leave a COM helper macro named INTERFACE defined; keep it out of
 * the way of the typedef and restore it afterwards. */
#ifdef INTERFACE
#pragma push_macro("INTERFACE")
#undef INTERFACE
#define MIRACAST_SIM_RESTORE_INTERFACE_MACRO 1
#endif

/* First members of every interface handed out through a query-interface request. */
typedef struct _INTERFACE {
    USHORT Size;
    USHORT Version;
    PVOID Context;
    PINTERFACE_REFERENCE InterfaceReference;
    PINTERFACE_DEREFERENCE InterfaceDereference;
} INTERFACE, *PINTERFACE;

#ifdef MIRACAST_SIM_RESTORE_INTERFACE_MACRO
#pragma pop_macro("INTERFACE")
#undef MIRACAST_SIM_RESTORE_INTERFACE_MACRO
#endif

#endif

/* ---- Static assertions (C11, C++11, and gcc/clang/MSVC in older modes) --------------------- */

#if defined(__cplusplus)
#define MIRACAST_SIM_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#elif defined(__GNUC__) || defined(__clang__) ||                                                   \
    (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L) ||                                  \
    (defined(_MSC_VER) && _MSC_VER >= 1928)
#define MIRACAST_SIM_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#else
#define MIRACAST_SIM_STATIC_ASSERT_CAT2(a, b) a##b
#define MIRACAST_SIM_STATIC_ASSERT_CAT(a, b) MIRACAST_SIM_STATIC_ASSERT_CAT2(a, b)
#define MIRACAST_SIM_STATIC_ASSERT(expr, msg)                                                      \
    typedef char MIRACAST_SIM_STATIC_ASSERT_CAT(miracast_sim_static_assert_, __LINE__)[(expr) ? 1 : -1]
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define MIRACAST_SIM_X64 1
MIRACAST_SIM_STATIC_ASSERT(sizeof(ULONG) == 4, "ULONG is 32 bits");
MIRACAST_SIM_STATIC_ASSERT(sizeof(NTSTATUS) == 4, "NTSTATUS is 32 bits");
MIRACAST_SIM_STATIC_ASSERT(sizeof(BOOLEAN) == 1, "BOOLEAN is one byte");
MIRACAST_SIM_STATIC_ASSERT(sizeof(BOOL) == 4, "BOOL is 32 bits");
MIRACAST_SIM_STATIC_ASSERT(sizeof(HANDLE) == 8, "HANDLE is 64 bits");
MIRACAST_SIM_STATIC_ASSERT(sizeof(SIZE_T) == 8, "SIZE_T is 64 bits");
MIRACAST_SIM_STATIC_ASSERT(sizeof(GUID) == 16, "GUID is 16 bytes");
MIRACAST_SIM_STATIC_ASSERT(sizeof(IO_STATUS_BLOCK) == 16, "IO_STATUS_BLOCK is 16 bytes");
MIRACAST_SIM_STATIC_ASSERT(sizeof(struct _INTERFACE) == 32, "INTERFACE is 32 bytes");
MIRACAST_SIM_STATIC_ASSERT(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER is 8 bytes");
#endif

#endif /* MIRACAST_SIM_WINTYPES_H */
