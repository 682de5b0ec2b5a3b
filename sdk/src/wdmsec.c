/* The WDK's wdmsec library for drivers built with the ntbox SDK (mingw-w64 has its header, not the
   library): IoCreateDeviceSecure (WdmlibIoCreateDeviceSecure) creates the device, turns the SDDL
   string into a self-relative security descriptor and applies it with
   ObSetSecurityObjectByPointer, as the WDK's library does; the SDDL_DEVOBJ_* strings Microsoft
   documents; WdmlibIoValidateDeviceIoControlAccess; WdmlibRtlInitUnicodeStringEx.
   The SDDL this reads: "D:" with an optional "P", then ACEs "(A|D;;RIGHTS;;;SID)"; rights as GA,
   GR, GW, GX, FA, FR, FW, FX, RC, SD, WD, WO or 0xHEX; SIDs as SY, BA, BU, WD, AU, IU, LS, NS, RC,
   AN, PS or S-1-.... Anything else makes IoCreateDeviceSecure fail with STATUS_INVALID_PARAMETER. */
#include <ntifs.h>
#include <wdmsec.h>

NTKERNELAPI NTSTATUS NTAPI ObSetSecurityObjectByPointer(PVOID Object, SECURITY_INFORMATION SecurityInformation,
                                                        PSECURITY_DESCRIPTOR SecurityDescriptor);

#define SDDL_STRING(name, text) const UNICODE_STRING name = {sizeof(text) - sizeof(WCHAR), sizeof(text), (PWCH)text}
SDDL_STRING(SDDL_DEVOBJ_KERNEL_ONLY, L"D:P");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL, L"D:P(A;;GA;;;SY)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_ALL, L"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_RX, L"D:P(A;;GA;;;SY)(A;;GRGX;;;BA)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R, L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GR;;;WD)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R_RES_R, L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GR;;;WD)(A;;GR;;;RC)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R,
            L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGW;;;WD)(A;;GR;;;RC)");
SDDL_STRING(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RWX_RES_RWX,
            L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGWGX;;;WD)(A;;GRGWGX;;;RC)");

#define WDMSEC_TAG 'SmdW'
#define MAX_ACES 32
#define MAX_SUBAUTHORITIES 8

typedef struct SDDL_ACE {
  UCHAR Type; /* 0 allow, 1 deny */
  ACCESS_MASK Mask;
  UCHAR Authority;
  UCHAR Count;
  ULONG Sub[MAX_SUBAUTHORITIES];
} SDDL_ACE;

typedef struct SDDL_CURSOR {
  const WCHAR *At, *End;
} SDDL_CURSOR;

static BOOLEAN Take(SDDL_CURSOR *c, PCWSTR text) {
  const WCHAR *p = c->At;
  for (; *text; ++text, ++p) {
    if (p >= c->End || *p != *text) return FALSE;
  }
  c->At = p;
  return TRUE;
}

static BOOLEAN Rights(SDDL_CURSOR *c, ACCESS_MASK *mask) {
  static const struct {
    WCHAR Code[3];
    ACCESS_MASK Mask;
  } codes[] = {{L"GA", GENERIC_ALL},        {L"GR", GENERIC_READ},       {L"GW", GENERIC_WRITE},
               {L"GX", GENERIC_EXECUTE},    {L"FA", FILE_ALL_ACCESS},    {L"FR", FILE_GENERIC_READ},
               {L"FW", FILE_GENERIC_WRITE}, {L"FX", FILE_GENERIC_EXECUTE}, {L"RC", READ_CONTROL},
               {L"SD", DELETE},             {L"WD", WRITE_DAC},          {L"WO", WRITE_OWNER}};
  *mask = 0;
  if (Take(c, L"0x")) {
    int digits = 0;
    while (c->At < c->End && *c->At != L';') {
      WCHAR h = *c->At++;
      ULONG v = h >= L'0' && h <= L'9' ? h - L'0' : h >= L'a' && h <= L'f' ? h - L'a' + 10
              : h >= L'A' && h <= L'F' ? h - L'A' + 10 : 16;
      if (v == 16 || ++digits > 8) return FALSE;
      *mask = (*mask << 4) | v;
    }
    return digits > 0;
  }
  while (c->At < c->End && *c->At != L';') {
    ULONG i;
    BOOLEAN found = FALSE;
    for (i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
      if (Take(c, codes[i].Code)) {
        *mask |= codes[i].Mask;
        found = TRUE;
        break;
      }
    }
    if (!found) return FALSE;
  }
  return *mask != 0;
}

static BOOLEAN Sid(SDDL_CURSOR *c, SDDL_ACE *ace) {
  static const struct {
    WCHAR Code[3];
    UCHAR Authority, Count;
    ULONG Sub[2];
  } aliases[] = {{L"SY", 5, 1, {18, 0}},  {L"BA", 5, 2, {32, 544}}, {L"BU", 5, 2, {32, 545}},
                 {L"WD", 1, 1, {0, 0}},   {L"AU", 5, 1, {11, 0}},   {L"IU", 5, 1, {4, 0}},
                 {L"LS", 5, 1, {19, 0}},  {L"NS", 5, 1, {20, 0}},   {L"RC", 5, 1, {12, 0}},
                 {L"AN", 5, 1, {7, 0}},   {L"PS", 5, 1, {10, 0}}};
  ULONG i;
  for (i = 0; i < sizeof aliases / sizeof aliases[0]; ++i) {
    if (Take(c, aliases[i].Code)) {
      ace->Authority = aliases[i].Authority;
      ace->Count = aliases[i].Count;
      ace->Sub[0] = aliases[i].Sub[0];
      ace->Sub[1] = aliases[i].Sub[1];
      return TRUE;
    }
  }
  if (!Take(c, L"S-1-")) return FALSE;
  {
    ULONG parts[MAX_SUBAUTHORITIES + 1];
    ULONG n = 0;
    for (;;) {
      ULONG v = 0;
      int digits = 0;
      while (c->At < c->End && *c->At >= L'0' && *c->At <= L'9') {
        v = v * 10 + (*c->At++ - L'0');
        ++digits;
      }
      if (!digits || n > MAX_SUBAUTHORITIES) return FALSE;
      parts[n++] = v;
      if (!Take(c, L"-")) break;
    }
    if (n < 2 || parts[0] > 255) return FALSE;
    ace->Authority = (UCHAR)parts[0];
    ace->Count = (UCHAR)(n - 1);
    for (i = 1; i < n; ++i) ace->Sub[i - 1] = parts[i];
  }
  return TRUE;
}

/* Parses sddl into aces; returns the count, or -1 when the string is not what this reads. */
static int Parse(PCUNICODE_STRING sddl, SDDL_ACE *aces, BOOLEAN *isProtected) {
  SDDL_CURSOR c;
  int n = 0;
  c.At = sddl->Buffer;
  c.End = sddl->Buffer + sddl->Length / sizeof(WCHAR);
  if (!Take(&c, L"D:")) return -1;
  *isProtected = Take(&c, L"P");
  while (c.At < c.End) {
    SDDL_ACE *ace = &aces[n];
    if (n == MAX_ACES || !Take(&c, L"(")) return -1;
    if (Take(&c, L"A")) {
      ace->Type = ACCESS_ALLOWED_ACE_TYPE;
    } else if (Take(&c, L"D")) {
      ace->Type = ACCESS_DENIED_ACE_TYPE;
    } else {
      return -1;
    }
    if (!Take(&c, L";;") || !Rights(&c, &ace->Mask) || !Take(&c, L";;;") || !Sid(&c, ace) || !Take(&c, L")")) {
      return -1;
    }
    ++n;
  }
  return n;
}

/* A self-relative descriptor with only a DACL, in paged pool (the caller frees it). */
static PSECURITY_DESCRIPTOR Build(const SDDL_ACE *aces, int count, BOOLEAN isProtected) {
  ULONG aclSize = sizeof(ACL), size, at;
  PUCHAR sd;
  PACL acl;
  int i;
  for (i = 0; i < count; ++i) aclSize += FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart) + 8 + 4 * aces[i].Count;
  size = sizeof(SECURITY_DESCRIPTOR_RELATIVE) + aclSize;
  sd = ExAllocatePoolWithTag(PagedPool, size, WDMSEC_TAG);
  if (!sd) return NULL;
  RtlZeroMemory(sd, size);
  ((PISECURITY_DESCRIPTOR_RELATIVE)sd)->Revision = SECURITY_DESCRIPTOR_REVISION;
  ((PISECURITY_DESCRIPTOR_RELATIVE)sd)->Control =
      SE_SELF_RELATIVE | SE_DACL_PRESENT | (isProtected ? SE_DACL_PROTECTED : 0);
  ((PISECURITY_DESCRIPTOR_RELATIVE)sd)->Dacl = sizeof(SECURITY_DESCRIPTOR_RELATIVE);
  acl = (PACL)(sd + sizeof(SECURITY_DESCRIPTOR_RELATIVE));
  acl->AclRevision = ACL_REVISION;
  acl->AclSize = (USHORT)aclSize;
  acl->AceCount = (USHORT)count;
  at = sizeof(ACL);
  for (i = 0; i < count; ++i) {
    PACCESS_ALLOWED_ACE ace = (PACCESS_ALLOWED_ACE)((PUCHAR)acl + at);
    PUCHAR sid = (PUCHAR)&ace->SidStart;
    USHORT aceSize = (USHORT)(FIELD_OFFSET(ACCESS_ALLOWED_ACE, SidStart) + 8 + 4 * aces[i].Count);
    ace->Header.AceType = aces[i].Type;
    ace->Header.AceFlags = 0;
    ace->Header.AceSize = aceSize;
    ace->Mask = aces[i].Mask;
    sid[0] = 1; /* SID_REVISION */
    sid[1] = aces[i].Count;
    sid[7] = aces[i].Authority; /* a six-byte big-endian authority */
    RtlCopyMemory(sid + 8, aces[i].Sub, 4 * aces[i].Count);
    at += aceSize;
  }
  return sd;
}

NTSTATUS WdmlibIoCreateDeviceSecure(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                                    DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                                    PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid,
                                    PDEVICE_OBJECT *DeviceObject) {
  SDDL_ACE aces[MAX_ACES];
  BOOLEAN isProtected = FALSE;
  PSECURITY_DESCRIPTOR sd;
  NTSTATUS status;
  int count;
  UNREFERENCED_PARAMETER(DeviceClassGuid); /* no class key overrides the default here */
  if (!DefaultSDDLString || !DefaultSDDLString->Buffer) return STATUS_INVALID_PARAMETER;
  count = Parse(DefaultSDDLString, aces, &isProtected);
  if (count < 0) return STATUS_INVALID_PARAMETER;
  sd = Build(aces, count, isProtected);
  if (!sd) return STATUS_INSUFFICIENT_RESOURCES;
  status = IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics, Exclusive,
                          DeviceObject);
  if (NT_SUCCESS(status)) {
    status = ObSetSecurityObjectByPointer(*DeviceObject, DACL_SECURITY_INFORMATION, sd);
    if (!NT_SUCCESS(status)) {
      IoDeleteDevice(*DeviceObject);
      *DeviceObject = NULL;
    }
  }
  ExFreePoolWithTag(sd, WDMSEC_TAG);
  return status;
}

NTSTATUS WdmlibRtlInitUnicodeStringEx(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
  SIZE_T length = 0;
  if (SourceString) {
    while (SourceString[length]) {
      if (++length > 0x7FFE) return STATUS_NAME_TOO_LONG;
    }
  }
  DestinationString->Length = (USHORT)(length * sizeof(WCHAR));
  DestinationString->MaximumLength = (USHORT)(SourceString ? (length + 1) * sizeof(WCHAR) : 0);
  DestinationString->Buffer = (PWCH)SourceString;
  return STATUS_SUCCESS;
}

/* Whether the handle the IOCTL came through has the access its code asks (FILE_READ_ACCESS,
   FILE_WRITE_ACCESS): a kernel-mode request always has. */
NTSTATUS WdmlibIoValidateDeviceIoControlAccess(PIRP Irp, ULONG RequiredAccess) {
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
  if (Irp->RequestorMode == KernelMode) return STATUS_SUCCESS;
  if ((RequiredAccess & FILE_READ_ACCESS) && !(file && file->ReadAccess)) return STATUS_ACCESS_DENIED;
  if ((RequiredAccess & FILE_WRITE_ACCESS) && !(file && file->WriteAccess)) return STATUS_ACCESS_DENIED;
  return STATUS_SUCCESS;
}
