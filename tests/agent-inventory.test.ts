import { describe, expect, it } from 'vitest';
import { canonicalJson, inventoryMessage } from '../agent/inventory/collect.ts';
import { normaliseSoftware, parseDpkg, parseRegUninstall, parseRpm } from '../agent/inventory/software.ts';
import { inventoryMessageSchema } from '../src/contract/schemas.ts';
import { fixtureText } from './helpers/agent-fixtures.ts';

describe('installed software', () => {
  it('Windows: both Uninstall keys, CRLF, Turkish names; no updates, system components or empty keys', () => {
    const native = parseRegUninstall(fixtureText('windows-pc/reg-uninstall.txt'));
    expect(native).toEqual([
      { name: '7-Zip 23.01 (x64 edition)', version: '23.01.00.0', publisher: 'Igor Pavlov', installDate: '20240312' },
      { name: 'AKİS Kart İzleme Aracı', version: '2.4.1', publisher: 'TÜBİTAK BİLGEM' },
      { name: 'Microsoft Edge', version: '131.0.2903.70', publisher: 'Microsoft Corporation', installDate: '20241203' },
    ]);
    const wow = parseRegUninstall(fixtureText('windows-pc/reg-uninstall-wow6432node.txt'));
    const all = normaliseSoftware([...native, ...wow]);
    expect(all.map((s) => s.name)).toEqual(['7-Zip 23.01 (x64 edition)', 'AKİS Kart İzleme Aracı', 'Adobe Acrobat Reader DC - Türkçe', 'Microsoft Edge', 'Netcad GIS 8.5.4']);
  });

  it('Windows: output that is not reg query output gives an empty list', () => {
    expect(parseRegUninstall('ERROR: The system was unable to find the specified registry key or value.\r\n')).toEqual([]);
    expect(parseRegUninstall('')).toEqual([]);
  });

  it('Debian: installed packages only (not removed ones with config left), maintainer without e-mail', () => {
    const list = parseDpkg(fixtureText('linux-server/dpkg-query.txt'));
    expect(list).toHaveLength(8);
    expect(list.map((s) => s.name)).not.toContain('linux-image-6.1.0-25-amd64');
    expect(list.map((s) => s.name)).not.toContain('samba');
    expect(list.find((s) => s.name === 'openssh-server')).toEqual({ name: 'openssh-server', version: '1:9.2p1-2+deb12u3', publisher: 'Debian OpenSSH Maintainers' });
  });

  it('RPM: vendor "(none)" means no publisher', () => {
    expect(parseRpm('bash\t5.1.8-6.el9\tRed Hat, Inc.\ngpg-pubkey\td4082792-5b32db75\t(none)\n')).toEqual([
      { name: 'bash', version: '5.1.8-6.el9', publisher: 'Red Hat, Inc.' },
      { name: 'gpg-pubkey', version: 'd4082792-5b32db75' },
    ]);
  });

  it('stable order, one entry per name and version, bounded by the contract', () => {
    const many = Array.from({ length: 10_050 }, (_, i) => ({ name: `paket-${String(10_050 - i).padStart(5, '0')}` }));
    const out = normaliseSoftware([...many, { name: 'paket-00001' }]);
    expect(out).toHaveLength(10_000);
    expect(out[0]).toEqual({ name: 'paket-00001' });
  });
});

describe('inventory message', () => {
  it('hashes the same inventory the same, whatever the key order; another serial, another hash', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"e":1,"f":2}]},"b":1}');
    const a = inventoryMessage({ system: { serial: 'CZC1234XYZ', model: 'HP EliteDesk 800 G6' } }, 1_733_212_800_000);
    const b = inventoryMessage({ system: { model: 'HP EliteDesk 800 G6', serial: 'CZC1234XYZ' } }, 1_733_212_900_000);
    const c = inventoryMessage({ system: { model: 'HP EliteDesk 800 G6', serial: 'CZC9999XYZ' } }, 1_733_212_800_000);
    expect(a.hash).toMatch(/^[a-f0-9]{64}$/);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
    expect(inventoryMessageSchema.safeParse(a).success).toBe(true);
  });

  it('refuses an inventory the contract would refuse, naming the field', () => {
    expect(() => inventoryMessage({ system: { serial: 'x'.repeat(300) } }, 1_733_212_800_000)).toThrow(/serial/);
  });
});
