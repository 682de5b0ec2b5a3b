/* What the example driver and its app share. */
#pragma once

#define IOCTL_HELLO_REVERSE CTL_CODE(0x8000, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
