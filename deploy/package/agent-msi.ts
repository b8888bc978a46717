import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

// The agent's Windows installer, written as WiX source and compiled by Debian's wixl: files in
// Program Files, the service (ServiceInstall/ServiceControl), a major upgrade that keeps
// %ProgramData%\belediye-agent (configuration, credentials, queue: no component owns it), and
// custom actions running the agent's own installer commands as LocalSystem.

/** Never changes: Windows recognises every version of the agent by it (major upgrades). */
export const AGENT_UPGRADE_CODE = '2F65AC74-873A-4EEA-86F0-B2375BFD5531';

/** The public properties of a silent install (`msiexec /i … /qn SITE=… COLLECTOR=…`). */
export const MSI_PROPERTIES = ['SITE', 'COLLECTOR', 'ENROLL_TOKEN', 'CA_FILE', 'MQTT_URL', 'PURGE'] as const;

export interface AgentMsiFiles {
  agentExe: string;
  winswExe: string;
  winswConfig: string;
  winswXml: string;
  exampleConfig: string;
  notices: string;
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Pure: MSI versions are three numbers of at most 255.255.65535; a pre-release suffix is dropped. */
export function msiVersion(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match || Number(match[1]) > 255 || Number(match[2]) > 255 || Number(match[3]) > 65535) throw new Error(`version ${version} cannot be an MSI version (a.b.c, a and b ≤ 255, c ≤ 65535)`);
  return `${match[1]}.${match[2]}.${match[3]}`;
}

/** Pure: the WiX source. Names are ASCII: wixl crashes on a Turkish product name in code page 1254. */
export function agentWxs(version: string, files: AgentMsiFiles): string {
  const configure =
    'configure --site "[SITE]" --collector "[COLLECTOR]" --token "[ENROLL_TOKEN]" --ca-file "[CA_FILE]" --mqtt-url "[MQTT_URL]"';
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Belediye Izleme Agent" Language="1033" Version="${msiVersion(version)}" Manufacturer="Belediye Izleme" UpgradeCode="${AGENT_UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Description="Belediye Izleme Agent ${xml(version)}"/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
    <MajorUpgrade DowngradeErrorMessage="A newer Belediye Izleme Agent is already installed."/>
    <!-- The token never reaches a log file in clear (msiexec /l*v writes ****). -->
    <Property Id="MsiHiddenProperties" Value="ENROLL_TOKEN"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Belediye Izleme Agent">
          <Component Id="ServiceWrapper" Guid="*" Win64="yes">
            <File Id="ServiceExe" Name="belediye-agent-service.exe" Source="${xml(files.winswExe)}" KeyPath="yes"/>
            <ServiceInstall Id="AgentService" Name="belediye-agent" DisplayName="Belediye Izleme Agent" Description="Reports this computer's health and inventory to the municipality's monitoring collector." Type="ownProcess" Start="auto" ErrorControl="normal" Account="NT SERVICE\\belediye-agent"/>
            <ServiceControl Id="AgentServiceControl" Name="belediye-agent" Start="install" Stop="both" Remove="uninstall" Wait="yes"/>
          </Component>
          <Component Id="ServiceWrapperConfig" Guid="*" Win64="yes">
            <File Id="ServiceXml" Name="belediye-agent-service.xml" Source="${xml(files.winswXml)}" KeyPath="yes"/>
            <File Id="ServiceExeConfig" Name="belediye-agent-service.exe.config" Source="${xml(files.winswConfig)}"/>
          </Component>
          <Component Id="Agent" Guid="*" Win64="yes">
            <File Id="AgentExe" Name="belediye-agent.exe" Source="${xml(files.agentExe)}" KeyPath="yes"/>
            <File Id="ExampleConfig" Name="agent.example.yaml" Source="${xml(files.exampleConfig)}"/>
            <File Id="Notices" Name="THIRD-PARTY-NOTICES.txt" Source="${xml(files.notices)}"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <CustomAction Id="WriteAgentConfig" FileKey="AgentExe" ExeCommand="${xml(configure)}" Execute="deferred" Impersonate="no" Return="check"/>
    <CustomAction Id="SetUpAgentService" FileKey="AgentExe" ExeCommand="windows-service-setup" Execute="deferred" Impersonate="no" Return="check"/>
    <CustomAction Id="PurgeAgentState" FileKey="AgentExe" ExeCommand="purge-state" Execute="deferred" Impersonate="no" Return="ignore"/>
    <InstallExecuteSequence>
      <Custom Action="WriteAgentConfig" Sequence="4010">NOT REMOVE AND SITE AND COLLECTOR</Custom>
      <Custom Action="SetUpAgentService" Sequence="5850">NOT REMOVE</Custom>
      <Custom Action="PurgeAgentState" Sequence="3400">REMOVE~="ALL" AND PURGE="1" AND NOT UPGRADINGPRODUCTCODE</Custom>
    </InstallExecuteSequence>
    <Feature Id="Main" Level="1">
      <ComponentRef Id="ServiceWrapper"/>
      <ComponentRef Id="ServiceWrapperConfig"/>
      <ComponentRef Id="Agent"/>
    </Feature>
  </Product>
</Wix>
`;
}

export function buildAgentMsi(version: string, files: AgentMsiFiles, output: string, workDir: string): void {
  // wixl resolves every Source against its working directory and refuses absolute paths.
  mkdirSync(workDir, { recursive: true });
  const local = Object.fromEntries(
    Object.entries(files).map(([key, path]) => {
      copyFileSync(path, join(workDir, basename(path)));
      return [key, basename(path)];
    }),
  ) as unknown as AgentMsiFiles;
  writeFileSync(join(workDir, 'belediye-agent.wxs'), agentWxs(version, local));
  mkdirSync(dirname(output), { recursive: true });
  execFileSync('wixl', ['--arch', 'x64', '--output', resolve(output), 'belediye-agent.wxs'], { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
}
