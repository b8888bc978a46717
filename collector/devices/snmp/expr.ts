// The arithmetic of `compute` profile fields: numbers, variables, + − × ÷, unary minus,
// parentheses and log10(). Parsed once when a profile loads (a typo fails the profile, naming
// it), evaluated per row as a plain function; no eval, no access to anything but the row.

export type Expression = (vars: Readonly<Record<string, number>>) => number;

type Token = { kind: 'num'; value: number } | { kind: 'name'; value: string } | { kind: 'op'; value: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-z][a-z0-9_]*)|([-+*/()]))/giy;
  let consumed = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    consumed = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'num', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'name', value: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: 'op', value: match[3] });
  }
  const rest = text.slice(consumed).trim();
  if (rest !== '') throw new Error(`unexpected "${rest.slice(0, 20)}" in expression "${text}"`);
  return tokens;
}

const FUNCTIONS: Record<string, (x: number) => number> = { log10: Math.log10 };

/** Compiles `expr`; every variable it uses must be in `names`. */
export function compileExpression(text: string, names: readonly string[]): Expression {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (what: string): never => {
    throw new Error(`${what} in expression "${text}"`);
  };
  const expectOp = (op: string) => {
    const t = tokens[pos++];
    if (t?.kind !== 'op' || t.value !== op) fail(`expected "${op}"`);
  };

  // sum := product (('+'|'-') product)*; product := unary (('*'|'/') unary)*
  function sum(): Expression {
    let left = product();
    for (let t = peek(); t?.kind === 'op' && (t.value === '+' || t.value === '-'); t = peek()) {
      pos++;
      const l = left;
      const r = product();
      left = t.value === '+' ? (v) => l(v) + r(v) : (v) => l(v) - r(v);
    }
    return left;
  }
  function product(): Expression {
    let left = unary();
    for (let t = peek(); t?.kind === 'op' && (t.value === '*' || t.value === '/'); t = peek()) {
      pos++;
      const l = left;
      const r = unary();
      left = t.value === '*' ? (v) => l(v) * r(v) : (v) => l(v) / r(v);
    }
    return left;
  }
  function unary(): Expression {
    const t = peek();
    if (t?.kind === 'op' && t.value === '-') {
      pos++;
      const inner = unary();
      return (v) => -inner(v);
    }
    return primary();
  }
  function primary(): Expression {
    const t = tokens[pos++];
    if (!t) return fail('unexpected end');
    if (t.kind === 'num') return () => t.value;
    if (t.kind === 'op' && t.value === '(') {
      const inner = sum();
      expectOp(')');
      return inner;
    }
    if (t.kind === 'name') {
      const fn = FUNCTIONS[t.value];
      if (fn && peek()?.kind === 'op' && peek()?.value === '(') {
        pos++;
        const arg = sum();
        expectOp(')');
        return (v) => fn(arg(v));
      }
      if (!names.includes(t.value)) fail(`unknown variable "${t.value}" (declared: ${names.join(', ') || 'none'})`);
      return (v) => v[t.value] ?? Number.NaN;
    }
    return fail(`unexpected "${t.value}"`);
  }

  const compiled = sum();
  if (pos !== tokens.length) fail(`unexpected "${String(tokens[pos]?.value)}"`);
  return compiled;
}
