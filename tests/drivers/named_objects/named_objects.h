/* named_objects.sys and its program: events shared by name between a driver and a program. */
#pragma once
#define NAMED_DEVICE L"\\Device\\NamedObjects"
#define NAMED_LINK L"\\DosDevices\\NamedObjects"
#define NAMED_WIN32 "\\\\.\\NamedObjects"
/* The driver's event (IoCreateNotificationEvent), and one the program creates (Global\...). */
#define DRIVER_EVENT L"\\BaseNamedObjects\\NtboxDriverEvent"
#define PROGRAM_EVENT L"\\BaseNamedObjects\\NtboxProgramEvent"
#define IOCTL_SIGNAL_DRIVER_EVENT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Shared memory the driver creates (ZwCreateSection) and maps in system space. */
#define SHARED_SECTION L"\\BaseNamedObjects\\NtboxSharedMemory"
#define SHARED_SIZE 0x10000
#define PROGRAM_TEXT_AT 0x100
#define IOCTL_READ_SHARED CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SIGNAL_PROGRAM_EVENT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
