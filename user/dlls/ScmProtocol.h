/* What ntbox's sechost.dll (the service control manager API, user/dlls/sechost) and the machine's
   service control manager (machine/ScmDevice) say to each other: one IOCTL on
   \Device\ServiceControlManager, a request in, one or more service records out. Windows' sechost
   talks RPC to services.exe instead; the operations and their Win32 errors are the same. C and C++. */
#ifndef NTBOX_SCM_PROTOCOL_H
#define NTBOX_SCM_PROTOCOL_H

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
namespace ntbox::scm {
#else
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#endif

/* \Device\ServiceControlManager's one request: CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED,
   FILE_ANY_ACCESS). */
#define NTBOX_SCM_DEVICE L"\\Device\\ServiceControlManager"
#define NTBOX_IOCTL_SCM 0x00222000u

enum NtboxScmOperation {
  NTBOX_SCM_CREATE = 1,   /* CreateService: every field */
  NTBOX_SCM_START = 2,
  NTBOX_SCM_STOP = 3,     /* ControlService(SERVICE_CONTROL_STOP) */
  NTBOX_SCM_DELETE = 4,
  NTBOX_SCM_QUERY = 5,    /* status and configuration of one service */
  NTBOX_SCM_CHANGE = 6,   /* ChangeServiceConfig: NTBOX_SCM_NO_CHANGE and the has* flags say what */
  NTBOX_SCM_ENUMERATE = 7 /* every driver service */
};

#define NTBOX_SCM_NO_CHANGE 0xFFFFFFFFu /* SERVICE_NO_CHANGE */
#define NTBOX_SCM_NAME 257              /* a service or display name with its terminator */
#define NTBOX_SCM_PATH 1024

#define NTBOX_SCM_HAS_DISPLAY_NAME 0x1u
#define NTBOX_SCM_HAS_IMAGE_PATH 0x2u
#define NTBOX_SCM_HAS_GROUP 0x4u
#define NTBOX_SCM_HAS_DESCRIPTION 0x8u /* ChangeServiceConfig2(SERVICE_CONFIG_DESCRIPTION) */

/* The strings are UTF-16 with their terminator; binary paths as the caller gave them (C:\..., \??\...). */
struct NtboxScmRequest {
  uint32_t operation;
  uint32_t type, start, errorControl;
  uint32_t has;
  uint16_t name[NTBOX_SCM_NAME];
  uint16_t displayName[NTBOX_SCM_NAME];
  uint16_t imagePath[NTBOX_SCM_PATH];
  uint16_t group[NTBOX_SCM_NAME];
  uint16_t description[NTBOX_SCM_PATH];
};

struct NtboxScmService {
  uint32_t type, start, errorControl;
  uint32_t state;              /* SERVICE_STOPPED ... SERVICE_RUNNING */
  uint32_t controlsAccepted;   /* SERVICE_ACCEPT_STOP when the driver can be unloaded */
  uint32_t win32ExitCode, serviceExitCode;
  uint32_t markedForDelete;
  uint16_t name[NTBOX_SCM_NAME];
  uint16_t displayName[NTBOX_SCM_NAME];
  uint16_t imagePath[NTBOX_SCM_PATH]; /* as stored: \??\Z:\... */
  uint16_t group[NTBOX_SCM_NAME];
  uint16_t description[NTBOX_SCM_PATH];
};

/* The reply: the Win32 error of the operation (0: done), how many records follow (one for every
   operation but ENUMERATE, which lists as many as fit and says in count how many there are). */
struct NtboxScmReply {
  uint32_t error;
  uint32_t count;
  struct NtboxScmService services[1];
};

#ifdef __cplusplus
static_assert(sizeof(NtboxScmRequest) == 20 + 2 * (3 * NTBOX_SCM_NAME + 2 * NTBOX_SCM_PATH) + 2);
static_assert(offsetof(NtboxScmReply, services) == 8);
}  // namespace ntbox::scm
#else
static_assert(sizeof(struct NtboxScmRequest) == 20 + 2 * (3 * NTBOX_SCM_NAME + 2 * NTBOX_SCM_PATH) + 2, "layout");
static_assert(offsetof(struct NtboxScmReply, services) == 8, "layout");
#endif

#endif
