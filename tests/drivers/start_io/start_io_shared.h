/* What start_io.sys and startio_app.exe share. */
#pragma once

/* Input START_IO_WORK. Queued with IoStartPacket (by key when Key is not 0); answers START_IO_DONE. */
#define START_IO_IOCTL_WORK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* The device's "interrupt": its DPC completes the current IRP and starts the next (input: ULONG,
   a key for IoStartNextPacketByKey, 0 for IoStartNextPacket). Fails with STATUS_DEVICE_NOT_READY
   when no IRP is current. */
#define START_IO_IOCTL_FIRE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Answers START_IO_STATS. */
#define START_IO_IOCTL_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct START_IO_WORK {
  unsigned int Key;
  unsigned int Immediate; /* StartIo completes it at once and starts the next itself */
} START_IO_WORK;

typedef struct START_IO_DONE {
  unsigned int Key;
  unsigned int Order; /* 1 for the first IRP the device completed, 2 for the next ... */
} START_IO_DONE;

typedef struct START_IO_STATS {
  unsigned int Started;      /* StartIo calls */
  unsigned int MaxDepth;     /* StartIo calls on the stack at once */
  unsigned int WrongIrql;    /* StartIo calls not at DISPATCH_LEVEL */
  unsigned int NotCurrent;   /* StartIo calls whose IRP was not DeviceObject->CurrentIrp */
  unsigned int Cancelled;    /* IRPs the cancel routine completed */
} START_IO_STATS;
