/* Seed 003's mistake: the timer's DPC opens the log file itself, at DISPATCH_LEVEL. */
#define TIMER_LOG_IN_DPC 1
#include "timer_log.c"
