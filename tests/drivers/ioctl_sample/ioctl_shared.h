/* The contract between ioctl_sample.sys and its app (seed 002's SIOCTL): device names and the
   four IOCTLs, one per transfer method. */
#pragma once

#define SIOCTL_TYPE 40000
#define IOCTL_SIOCTL_METHOD_IN_DIRECT CTL_CODE(SIOCTL_TYPE, 0x900, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_SIOCTL_METHOD_OUT_DIRECT CTL_CODE(SIOCTL_TYPE, 0x901, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_SIOCTL_METHOD_NEITHER CTL_CODE(SIOCTL_TYPE, 0x902, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_SIOCTL_METHOD_BUFFERED CTL_CODE(SIOCTL_TYPE, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Not in the original: a dispatch routine that touches a NULL pointer (the crash path). */
#define IOCTL_SIOCTL_FAULT CTL_CODE(SIOCTL_TYPE, 0x9F0, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define SIOCTL_NT_DEVICE_NAME L"\\Device\\SIOCTL"
#define SIOCTL_DOS_DEVICE_NAME L"\\DosDevices\\IoctlTest"
#define SIOCTL_WIN32_NAME "\\\\.\\IoctlTest"

/* What the driver writes into every output buffer. */
#define SIOCTL_REPLY "This String is from Device Driver !!!"
