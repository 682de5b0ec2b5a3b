/* Seed 003's timer driver: what its test and its device share. */
#pragma once

#define TIMER_LOG_IOCTL_WAIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define TIMER_LOG_TICKS 3

/* What IOCTL_WAIT answers once the ticks are logged. */
typedef struct TIMER_LOG_RESULT {
  unsigned long Ticks;       /* work items that wrote their line */
  unsigned long DpcIrql;     /* the IRQL the timer's DPC ran at */
  unsigned long WorkerIrql;  /* the IRQL the work items ran at */
  unsigned long WriteStatus; /* the last ZwWriteFile status */
} TIMER_LOG_RESULT;
