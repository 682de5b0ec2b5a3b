/* A manifest-based ETW provider as the WDK builds one: its manifest (etw_manifest.man) compiled by
   the SDK's ntbox-mc into the image's WEVT_TEMPLATE and message-table resources and into
   etw_manifest.h, whose EventWrite routines DriverEntry calls once registered. tracefmt decodes
   the events by the manifest the image carries: field names, types, task and opcode names, the
   message. */
#include <ntddk.h>
#include <string.h>
#include <wchar.h>

#include "etw_manifest.h"

static REGHANDLE g_provider;

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  EtwUnregister(g_provider);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING path) {
  /* {01234567-89AB-CDEF-0123-456789ABCDEF} */
  static const GUID id = {0x01234567, 0x89ab, 0xcdef, {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
  static const UCHAR tag[4] = {0xde, 0xad, 0xbe, 0xef};
  NTSTATUS status;
  UNREFERENCED_PARAMETER(path);
  status = EtwRegister(&NTBOX_TEST_MANIFEST, NULL, NULL, &g_provider);
  if (!NT_SUCCESS(status)) return status;
  driver->DriverUnload = Unload;
  EventWriteReadDone(g_provider, L"\\??\\C:\\data\\file.bin", 0x2000, 512, STATUS_END_OF_FILE);
  EventWriteConfigChanged(g_provider, "verbose mode", TRUE, -7, &id, tag);
  EventWriteNoTemplate(g_provider);
  /* Data that does not fit its template stays undecoded: shown as bytes, not misread. */
  {
    ULONG shortData = 5;
    EVENT_DATA_DESCRIPTOR d;
    EventDataDescCreate(&d, &shortData, sizeof shortData);
    EtwWrite(g_provider, &ConfigChanged, NULL, 1, &d);
  }
  DbgPrint("etw_manifest: events written\n");
  return STATUS_SUCCESS;
}
