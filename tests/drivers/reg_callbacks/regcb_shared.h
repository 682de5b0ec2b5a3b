/* What reg_callbacks.sys and regcb_app.exe share. */
#pragma once

/* Output: REGCB_STATS. */
#define REGCB_IOCTL_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB01, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* The key the guard watches, under HKLM. */
#define REGCB_KEY "SOFTWARE\\RegCbTest"

typedef struct REGCB_STATS {
  unsigned int Blocked;        /* set-values and deletes the guard refused */
  unsigned int Redirected;     /* opens the guard sent to ...\Target */
  unsigned int Virtualized;    /* queries the guard answered itself */
  unsigned int ObserverPre;    /* pre-notifications the lower routine heard for the watched key */
  unsigned int ObserverPost;   /* and post-notifications */
  unsigned int ContextsSeen;   /* pre-notifications that carried the guard's object context */
  unsigned int CallContexts;   /* post-notifications that carried the guard's call context back */
  unsigned int WrongName;      /* CmCallbackGetKeyObjectIDEx names not under \REGISTRY */
} REGCB_STATS;
