// The PowerShell text of the Windows health run: everything the hardware cadence needs on
// Windows, asked in ONE powershell.exe per round (docs/agent.md#windows-health). It prints one
// JSON document; interpreting it is agent/windows/parse-health.ts's job, so the script only
// gathers raw values and makes no decisions (all of those are tested in TypeScript, and no
// PowerShell runs here).
//
// Why it is shaped as it is:
// - Each section sits in its own try/catch under $ErrorActionPreference = 'Stop', so a query
//   that fails (a class missing on this edition, access denied) becomes `{ error: "…" }` for that
//   section alone.
// - The script is sent on standard input (`-Command -`), not as -EncodedCommand: endpoint
//   security products flag encoded PowerShell command lines. PowerShell reads standard input the
//   way the interactive console does, and a blank line ends a multi-line statement there; so the
//   whole script is one `& { … }` block with no blank line and no comment line inside, followed
//   by a blank line. The comments live here, in TypeScript.
// - It is ASCII only (service names are held to ASCII by agent/windows/config.ts): PowerShell
//   decodes standard input in the console code page. Output is switched to UTF-8 (without BOM)
//   first, because display names and update titles have Turkish letters.
// - Dates leave PowerShell as milliseconds since the epoch: ConvertTo-Json writes DateTime as
//   "\/Date(…)\/" in Windows PowerShell 5.1 and as ISO text in PowerShell 7.
// - `Remove-TypeData System.Array`: Windows PowerShell 5.1 otherwise serialises some arrays as
//   {"value":[…],"Count":n}. The parser accepts that shape too.
// - CIM objects are never serialised whole (hundreds of properties, class metadata): each
//   section picks the properties it needs into an [ordered] hashtable.

export interface HealthScriptOptions {
  /** Configured service names (agent.yaml windows.services), ASCII as validated. */
  services: readonly string[];
  /** Upper bound on WHEA events listed (newest first); counts beyond it are marked capped. */
  maxWheaEvents?: number;
}

/** A PowerShell single-quoted literal: only the quote itself is special inside it. */
export function psString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function psArray(values: readonly string[]): string {
  return `@(${values.map(psString).join(', ')})`;
}

const PRELUDE = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  'try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }',
  'try { Remove-TypeData -TypeName System.Array } catch { }',
  'function Ms($d) { if ($null -eq $d) { return $null }; return ([DateTimeOffset]$d).ToUnixTimeMilliseconds() }',
  "function Err($e) { $m = '' + $e.Exception.Message; if ($m.Length -gt 240) { $m = $m.Substring(0, 240) }; return [ordered]@{ error = $m } }",
  '$r = [ordered]@{ v = 1; now = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() }',
  '$o = $null',
];

// Boot time: "since boot" counts and the pending-reboot estimate.
const OS = [
  'try { $o = Get-CimInstance -ClassName Win32_OperatingSystem; $r.os = [ordered]@{ bootMs = Ms $o.LastBootUpTime; caption = $o.Caption; version = $o.Version } } catch { $r.os = Err $_ }',
];

// Fixed drives (DriveType 3) for the fast cadence's statfs calls: the drive list without a process per interval.
const DRIVES = [
  "try { $r.drives = @(Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType=3' | ForEach-Object { [ordered]@{ id = $_.DeviceID; fs = $_.FileSystem; size = $_.Size } }) } catch { $r.drives = Err $_ }",
];

// Page files (sizes in MB) for the `swap` metric.
const PAGEFILE = [
  'try { $r.pagefile = @(Get-CimInstance -ClassName Win32_PageFileUsage | ForEach-Object { [ordered]@{ name = $_.Name; allocatedMb = $_.AllocatedBaseSize; usedMb = $_.CurrentUsage } }) } catch { $r.pagefile = Err $_ }',
];

// Network adapters (visible ones, as Get-NetAdapter lists them) and their counters for `net`.
const NET = [
  'try {',
  '$r.net = [ordered]@{ adapters = @(Get-NetAdapter | ForEach-Object { [ordered]@{ name = $_.Name; desc = $_.InterfaceDescription; status = \'\' + $_.Status; speed = $_.Speed; virtual = $_.Virtual } }); stats = @(Get-NetAdapterStatistics | ForEach-Object { [ordered]@{ name = $_.Name; rxBytes = $_.ReceivedBytes; txBytes = $_.SentBytes; rxErrors = $_.ReceivedPacketErrors; txErrors = $_.OutboundPacketErrors; rxDropped = $_.ReceivedDiscardedPackets; txDropped = $_.OutboundDiscardedPackets } }) }',
  '} catch { $r.net = Err $_ }',
];

// ACPI thermal zones (tenths of kelvin); many desktops have none ("Not supported").
const THERMAL = [
  'try { $r.thermal = @(Get-CimInstance -Namespace root/wmi -ClassName MSAcpi_ThermalZoneTemperature | ForEach-Object { [ordered]@{ name = $_.InstanceName; tenthsKelvin = $_.CurrentTemperature } }) } catch { $r.thermal = Err $_ }',
];

// Battery: the root/wmi capacity classes are asked only where Win32_Battery lists one.
const BATTERY = [
  'try {',
  '$bl = @(Get-CimInstance -ClassName Win32_Battery)',
  '$b = [ordered]@{ list = @($bl | ForEach-Object { [ordered]@{ id = $_.DeviceID; status = $_.BatteryStatus; pct = $_.EstimatedChargeRemaining; design = $_.DesignCapacity } }) }',
  'if ($bl.Count -gt 0) {',
  'try { $b.designed = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryStaticData | ForEach-Object { $_.DesignedCapacity }) } catch { try { $b.designed = @(Get-WmiObject -Namespace root/wmi -Class BatteryStaticData | ForEach-Object { $_.DesignedCapacity }) } catch { } }',
  'try { $b.full = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryFullChargedCapacity | ForEach-Object { $_.FullChargedCapacity }) } catch { }',
  'try { $b.cycles = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryCycleCount | ForEach-Object { $_.CycleCount }) } catch { }',
  '}',
  '$r.battery = $b',
  '} catch { $r.battery = Err $_ }',
];

// Disks: Win32_DiskDrive.Status ("Pred Fail") is readable without admin rights; the Storage
// module's MSFT_PhysicalDisk gives HealthStatus/OperationalStatus; the reliability counters and
// the driver's failure prediction need admin (the agent runs as SYSTEM), each in its own try.
const DISKS = [
  'try {',
  '$d = [ordered]@{}',
  '$d.drives = @(Get-CimInstance -ClassName Win32_DiskDrive | ForEach-Object { [ordered]@{ index = $_.Index; model = $_.Model; status = $_.Status; pnp = $_.PNPDeviceID; iface = $_.InterfaceType } })',
  'try { $d.physical = @(Get-CimInstance -Namespace root/Microsoft/Windows/Storage -ClassName MSFT_PhysicalDisk | ForEach-Object { $p = $_; $rc = $null; try { $rc = $p | Get-CimAssociatedInstance -ResultClassName MSFT_StorageReliabilityCounter | Select-Object -First 1 } catch { }; [ordered]@{ id = $p.DeviceId; name = $p.FriendlyName; health = $p.HealthStatus; operational = @($p.OperationalStatus); media = $p.MediaType; bus = $p.BusType; temperature = $rc.Temperature; wear = $rc.Wear; readErrors = $rc.ReadErrorsUncorrected; writeErrors = $rc.WriteErrorsUncorrected; powerOnHours = $rc.PowerOnHours } }) } catch { $d.physicalError = (Err $_).error }',
  'try { $d.predict = @(Get-CimInstance -Namespace root/wmi -ClassName MSStorageDriver_FailurePredictStatus | ForEach-Object { [ordered]@{ instance = $_.InstanceName; predict = $_.PredictFailure; reason = $_.Reason } }) } catch { $d.predictError = (Err $_).error }',
  '$r.disks = $d',
  '} catch { $r.disks = Err $_ }',
];

// WHEA: hardware error reports in the System log since min(boot, 24 h ago), newest first.
// "No events" is an exception in Get-WinEvent; its FullyQualifiedErrorId is not translated.
const whea = (max: number) => [
  'try {',
  '$since = (Get-Date).AddHours(-24)',
  'if ($o -and $o.LastBootUpTime -and $o.LastBootUpTime -lt $since) { $since = $o.LastBootUpTime }',
  '$ev = @()',
  `try { $ev = @(Get-WinEvent -FilterHashtable @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-WHEA-Logger'; StartTime = $since } -MaxEvents ${max}) } catch { if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw } }`,
  `$r.whea = [ordered]@{ sinceMs = Ms $since; max = ${max}; events = @($ev | ForEach-Object { [ordered]@{ t = Ms $_.TimeCreated; level = $_.Level; id = $_.Id } }) }`,
  '} catch { $r.whea = Err $_ }',
];

// Services: one query of all services, filtered here by name or display name (-contains is
// case-insensitive); which configured names are missing is decided by the parser.
const services = (names: readonly string[]) =>
  names.length === 0
    ? ['$r.services = @()']
    : [
        'try {',
        `$want = ${psArray(names)}`,
        '$r.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object { ($want -contains $_.Name) -or ($want -contains $_.DisplayName) } | ForEach-Object { [ordered]@{ name = $_.Name; display = $_.DisplayName; state = $_.State; startMode = $_.StartMode; exitCode = $_.ExitCode } })',
        '} catch { $r.services = Err $_ }',
      ];

// Pending reboot: the three keys every patching tool looks at.
const REBOOT = [
  'try {',
  '$u = [ordered]@{}',
  "$u.cbs = Test-Path -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending'",
  "$u.windowsUpdate = Test-Path -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired'",
  "$pfr = $null; try { $pfr = (Get-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager' -Name PendingFileRenameOperations).PendingFileRenameOperations } catch { }",
  '$u.fileRename = @($pfr | Where-Object { $_ }).Count',
  '$r.reboot = $u',
  '} catch { $r.reboot = Err $_ }',
];

// Installed updates: the Windows Update agent's history (successful installations, newest
// first, with category ids so the parser can leave out Defender definition updates), and the
// hotfix list as a fallback. InstalledOn is taken as the raw CIM string: Get-HotFix parses it
// with the current culture and gets it wrong on Turkish Windows.
const UPDATES = [
  'try {',
  '$us = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()',
  '$n = $us.GetTotalHistoryCount()',
  '$in = @()',
  'if ($n -gt 0) { $in = @($us.QueryHistory(0, [Math]::Min($n, 300)) | Where-Object { $_.Operation -eq 1 -and ($_.ResultCode -eq 2 -or $_.ResultCode -eq 3) } | Select-Object -First 100 | ForEach-Object { $e = $_; $c = @(); try { $c = @($e.Categories | ForEach-Object { $_.CategoryID }) } catch { }; [ordered]@{ t = Ms $e.Date; title = $e.Title; cats = $c } }) }',
  '$r.updates = [ordered]@{ total = $n; installs = $in }',
  '} catch { $r.updates = Err $_ }',
  'try { $r.hotfixes = @(Get-CimInstance -ClassName Win32_QuickFixEngineering | ForEach-Object { [ordered]@{ id = $_.HotFixID; on = $_.InstalledOn } }) } catch { $r.hotfixes = Err $_ }',
];

// Defender: a missing cmdlet (Server without the feature) or a failing one (service stopped
// because another antivirus took over) is reported as such, not as "off"; Security Center's
// list names third-party products (workstations only; Server has no root/SecurityCenter2).
const DEFENDER = [
  'try {',
  "if ($null -eq (Get-Command -Name Get-MpComputerStatus -ErrorAction SilentlyContinue)) { $r.defender = [ordered]@{ installed = $false } } else {",
  'try { $mp = Get-MpComputerStatus; $r.defender = [ordered]@{ installed = $true; mode = $mp.AMRunningMode; service = $mp.AMServiceEnabled; antivirus = $mp.AntivirusEnabled; realtime = $mp.RealTimeProtectionEnabled; signatureAge = $mp.AntivirusSignatureAge; signatureMs = Ms $mp.AntivirusSignatureLastUpdated } } catch { $r.defender = [ordered]@{ installed = $true; statusError = (Err $_).error } }',
  '}',
  '} catch { $r.defender = Err $_ }',
  'try { $r.antivirus = @(Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct | ForEach-Object { [ordered]@{ name = $_.displayName; state = $_.productState } }) } catch { $r.antivirus = Err $_ }',
];

const OUTPUT = ['[Console]::Out.Write(($r | ConvertTo-Json -Depth 8 -Compress))', '[Console]::Out.Flush()'];

/** The whole script as sent on standard input: one block, no blank line inside, a blank line after it. */
export function healthScript(options: HealthScriptOptions): string {
  const lines = [
    ...PRELUDE,
    ...OS,
    ...DRIVES,
    ...PAGEFILE,
    ...NET,
    ...THERMAL,
    ...BATTERY,
    ...DISKS,
    ...whea(options.maxWheaEvents ?? 500),
    ...services(options.services),
    ...REBOOT,
    // Slowest last: the update history can take seconds on a machine with a long history.
    ...DEFENDER,
    ...UPDATES,
    ...OUTPUT,
  ];
  return `& {\r\n${lines.join('\r\n')}\r\n}\r\n\r\n`;
}

/** The section names the script reports, for the parser's bookkeeping. */
export const HEALTH_SECTIONS = ['os', 'drives', 'pagefile', 'net', 'thermal', 'battery', 'disks', 'whea', 'services', 'reboot', 'defender', 'antivirus', 'updates', 'hotfixes'] as const;
export type HealthSection = (typeof HEALTH_SECTIONS)[number];
