/* What csq_queue.sys and csq_app.exe share. */
#pragma once

/* Queued in the cancel-safe queue until released or cancelled; answers its sequence number. */
#define CSQ_IOCTL_HOLD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Input: ULONG n. The worker thread completes the n oldest held requests. */
#define CSQ_IOCTL_RELEASE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Answers CSQ_STATS. */
#define CSQ_IOCTL_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct CSQ_STATS {
  unsigned int Inserted;  /* requests queued */
  unsigned int Completed; /* completed by the worker thread */
  unsigned int Cancelled; /* completed as cancelled */
  unsigned int Pending;   /* still queued */
} CSQ_STATS;
