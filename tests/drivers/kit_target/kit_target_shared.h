/* \\.\KitTarget's requests, shared by the driver and the test kit's own tests. */
#pragma once

#define KIT_CTL(function) (((0x8000u) << 16) | ((function) << 2)) /* FILE_DEVICE 0x8000, METHOD_BUFFERED, FILE_ANY_ACCESS */
#define IOCTL_KIT_REVERSE KIT_CTL(0x900u)   /* output: the input reversed */
#define IOCTL_KIT_LATER KIT_CTL(0x901u)     /* input: a KIT_LATER_* action, done 20 ms later by a timer */
#define IOCTL_KIT_LEAK KIT_CTL(0x902u)      /* allocates pool and forgets it */
#define IOCTL_KIT_THREAD KIT_CTL(0x903u)    /* a system thread that works 20 ms, then waits for unload;
                                               input 1: one that polls every 10 ms until unload */

#define KIT_LATER_WORK 1     /* the timer's DPC queues a work item that prints */
#define KIT_LATER_BUGCHECK 2 /* the timer's DPC opens a file at DISPATCH_LEVEL (seed 003's mistake) */
#define KIT_LATER_PERIODIC 3 /* the timer fires every 10 ms until unload */
