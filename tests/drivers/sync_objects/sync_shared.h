/* What sync_objects.sys and its tests share. */
#pragma once

/* Runs every single-threaded check; answers SYNC_CHECKS. */
#define SYNC_IOCTL_CHECKS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Input: ULONG lock kind (SYNC_LOCK_*). SYNC_THREADS system threads each take the lock
   SYNC_ROUNDS times around a read-sleep-write of a shared counter; answers SYNC_CONTENTION. */
#define SYNC_IOCTL_CONTEND CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define SYNC_LOCK_FAST_MUTEX 0
#define SYNC_LOCK_GUARDED_MUTEX 1
#define SYNC_LOCK_RESOURCE 2
#define SYNC_LOCK_PUSH_LOCK 3
#define SYNC_LOCK_SPIN_LOCK 4
#define SYNC_LOCK_QUEUED_SPIN_LOCK 5
#define SYNC_LOCK_KMUTEX 6
#define SYNC_LOCK_KINDS 7

#define SYNC_THREADS 4
#define SYNC_ROUNDS 50

typedef struct SYNC_CHECKS {
  unsigned int Checks;   /* checks made */
  unsigned int Failures; /* each failure is also a "sync: FAIL" debug line */
} SYNC_CHECKS;

typedef struct SYNC_CONTENTION {
  unsigned int Counter;      /* the shared counter at the end: SYNC_THREADS * SYNC_ROUNDS if exclusive */
  unsigned int MaxInside;    /* most threads ever inside the lock at once: 1 */
  unsigned int Contended;    /* acquires that found the lock taken (waited) */
  unsigned int MaxReaders;   /* SYNC_LOCK_RESOURCE / PUSH_LOCK: most shared holders at once */
  unsigned int ThreadStatus; /* the first thread exit status that was not STATUS_SUCCESS */
} SYNC_CONTENTION;
