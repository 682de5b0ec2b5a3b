/* What object_callbacks.sys and obcb_app.exe share. */
#pragma once

/* Input: ULONG, the process id whose handles lose PROCESS_TERMINATE and PROCESS_VM_WRITE (and its
   threads' handles THREAD_TERMINATE). Output: OBCB_CALLER, what the driver sees of the caller. */
#define OBCB_IOCTL_PROTECT CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA01, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Output: OBCB_STATS. */
#define OBCB_IOCTL_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA02, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define OBCB_STRIPPED_PROCESS 0x0009 /* PROCESS_TERMINATE | PROCESS_VM_WRITE... see obcb_app.c */

typedef struct OBCB_CALLER {
  unsigned int LookupOk;   /* PsLookupThreadByThreadId found the caller's thread */
  unsigned int ProcessId;  /* PsGetThreadProcessId of it */
  unsigned int SameProcess; /* IoThreadToProcess(Irp->Tail.Overlay.Thread) == PsGetCurrentProcess() */
} OBCB_CALLER;

typedef struct OBCB_STATS {
  unsigned int ProcessPreCreate, ProcessPostCreate, ProcessPreDuplicate, ProcessPostDuplicate;
  unsigned int ThreadPreCreate, ThreadPostCreate;
  unsigned int Stripped;        /* pre-operations that took rights away */
  unsigned int PostSawStripped; /* post-operations whose GrantedAccess kept a stripped right */
  unsigned int ContextLost;     /* post-operations without their pre-operation's CallContext */
  unsigned int KernelHandles;   /* operations flagged KernelHandle */
} OBCB_STATS;
