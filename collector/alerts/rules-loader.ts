import { readFileSync } from 'node:fs';
import { parseYamlText, validateConfig } from '../../src/config/load.ts';
import { collectorAsset } from '../assets.ts';
import { rulesFileSchema, type Rule } from './rule-schema.ts';

// The shipped default rules plus the municipality's own file: a rule with the same id replaces
// the default (so a threshold or severity can be changed, or `enabled: false` set), new ids add
// rules. A file that does not validate names the file, line or field.

export const DEFAULT_RULES_FILE = collectorAsset('alerts/default-rules.yaml');

export function parseRules(text: string, source: string): Rule[] {
  return validateConfig(rulesFileSchema, parseYamlText(text, source), source).rules;
}

export function loadRules(ownFile?: string): Rule[] {
  const rules = new Map(parseRules(readFileSync(DEFAULT_RULES_FILE, 'utf8'), DEFAULT_RULES_FILE).map((r) => [r.id, r]));
  if (ownFile) for (const rule of parseRules(readFileSync(ownFile, 'utf8'), ownFile)) rules.set(rule.id, rule);
  return [...rules.values()];
}
