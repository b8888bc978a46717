import { z } from 'zod';

// The agent's `windows:` key. Service names go into the health script as PowerShell string
// literals sent on standard input, so they are held to printable ASCII without quotes,
// backticks or slashes: nothing in a name can end the literal, and the script stays ASCII
// (PowerShell reads standard input in the console code page, 857 on Turkish Windows).
// Real service names (`sc query`, services.msc → Properties → "Service name") fit this,
// including instance names like MSSQL$SQLEXPRESS.
const SERVICE_NAME = /^[A-Za-z0-9 _.$#@+(){}[\]-]{1,128}$/;

export const windowsSchema = z
  .strictObject({
    /** Service names (or display names) that must be running; a name this machine does not have is reported as missing. */
    services: z
      .array(z.string().regex(SERVICE_NAME, 'expected a Windows service name like "MSSQLSERVER" or "MSSQL$SQLEXPRESS" (letters, digits, space and _ . $ # @ + ( ) { } [ ] -)'))
      .max(64)
      .default([]),
  })
  .prefault({});
export type WindowsConfig = z.infer<typeof windowsSchema>;
