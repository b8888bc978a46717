// {{name}} placeholders in rule messages and notification texts. Unknown names stay visible
// ("{{nmae}}") so a typo in a rules file shows in the first notification instead of vanishing.

export type TemplateVars = Record<string, string | number | undefined>;

export function renderTemplate(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return typeof value === 'number' ? formatNumber(value) : value;
  });
}

/** Values people read: at most one decimal, no "87.00000001". */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);
}
