// How an SMS text travels and how many parts it costs, decided before sending (pure functions).
//
// Alphabets (3GPP TS 23.038): the GSM 7-bit default alphabet (§6.2.1) with its extension table
// reached through ESC (§6.2.1.1), and for Turkish the national language single shift table
// (Annex A.2.1), which replaces the extension table and adds Ğ İ Ş ç ğ ı ş (plus the usual
// ^ { } \ [ ~ ] | €) as ESC pairs. Anything else needs UCS-2 (UTF-16; a character outside the
// BMP takes two units). The Turkish locking shift table (A.3.1) is not used: it gives the
// Turkish letters one septet each but drops è ì Ø ø Æ æ ¡ ¿ from the base table, phone SMS stacks
// (Android, Symbian) use it only where the operator or regulator asks, and a message read against
// the wrong table shows the wrong letters.
//
// Capacities follow from TP-User-Data being at most 140 octets and the user data header taking
// room in it (3GPP TS 23.040 §9.2.3.24): UDHL (1 octet) + concatenation IE 0x00 with an
// 8-bit reference (5 octets) + national language single shift IE 0x24 (3 octets). With 7-bit
// text the header is padded to a septet boundary, so: 160 septets plain, 153 per part
// (6 octets → 7 septets), 155 with the shift IE alone (4 octets → 5 septets), 149 per part with
// both (9 octets → 11 septets). UCS-2: 70 units plain, 67 per part ((140 − 6) / 2).

export type SmsEncoding = 'gsm7' | 'gsm7-turkish' | 'ucs2';

export interface SmsPlanOptions {
  /** The transport sends Turkish letters with the Turkish single shift table (else they need UCS-2). */
  allowTurkishShift: boolean;
}

export interface SmsPlan {
  encoding: SmsEncoding;
  /** Parts the text is sent in (an empty text still costs one). */
  segments: number;
  /** Septets for the GSM alphabets (ESC pairs count two), UTF-16 units for UCS-2. */
  septetsOrChars: number;
  /** Room in one part of this plan: the single-part limit when it fits in one, else the per-part limit. */
  perSegment: number;
}

/** §6.2.1, in septet order; position 0x1B is ESC, which no text character maps to. */
const DEFAULT_ALPHABET =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const ESC = 0x1b;

/** §6.2.1.1: characters sent as ESC + septet. */
const DEFAULT_EXTENSION: Record<string, number> = { '\f': 0x0a, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2f, '[': 0x3c, '~': 0x3d, ']': 0x3e, '|': 0x40, '€': 0x65 };
/** Annex A.2.1, Turkish national language single shift table. */
const TURKISH_SINGLE_SHIFT: Record<string, number> = { ...DEFAULT_EXTENSION, 'Ğ': 0x47, 'İ': 0x49, 'Ş': 0x53, 'ç': 0x63, 'ğ': 0x67, 'ı': 0x69, 'ş': 0x73 };

const BASE = new Map([...DEFAULT_ALPHABET].flatMap((ch, septet) => (septet === ESC ? [] : [[ch, septet] as const])));
const SHIFT: Record<'gsm7' | 'gsm7-turkish', ReadonlyMap<string, number>> = {
  'gsm7': new Map(Object.entries(DEFAULT_EXTENSION)),
  'gsm7-turkish': new Map(Object.entries(TURKISH_SINGLE_SHIFT)),
};

/** 3GPP TS 23.040 §9.2.3.24: information element identifiers and the Turkish language id (23.038 Table 6.2.1.2.4.1). */
const IE_CONCAT_8BIT = 0x00;
const IE_SINGLE_SHIFT = 0x24;
const LANGUAGE_TURKISH = 0x01;
const USER_DATA_OCTETS = 140;

export interface ConcatInfo {
  /** Same for every part of one message (0-255). */
  ref: number;
  total: number;
  /** 1-based. */
  seq: number;
}

/** The user data header for one part, or an empty array when the part needs none. */
export function userDataHeader(encoding: SmsEncoding, concat?: ConcatInfo): Uint8Array {
  const ies: number[] = [];
  if (concat) ies.push(IE_CONCAT_8BIT, 3, concat.ref & 0xff, concat.total, concat.seq);
  if (encoding === 'gsm7-turkish') ies.push(IE_SINGLE_SHIFT, 1, LANGUAGE_TURKISH);
  return ies.length === 0 ? new Uint8Array(0) : Uint8Array.from([ies.length, ...ies]);
}

/** Room in one part: septets for 7-bit text (the header rounded up to whole septets), UTF-16 units for UCS-2. */
function capacity(encoding: SmsEncoding, concatenated: boolean): number {
  const udh = userDataHeader(encoding, concatenated ? { ref: 0, total: 2, seq: 1 } : undefined).length;
  if (encoding === 'ucs2') return Math.floor((USER_DATA_OCTETS - udh) / 2);
  return Math.floor((USER_DATA_OCTETS * 8) / 7) - Math.ceil((udh * 8) / 7);
}

/** Cost of each character (code point) in the encoding, or undefined when one cannot be sent in it. */
function characterCosts(chars: readonly string[], encoding: SmsEncoding): number[] | undefined {
  if (encoding === 'ucs2') return chars.map((ch) => ch.length);
  const shift = SHIFT[encoding];
  const costs: number[] = [];
  for (const ch of chars) {
    if (BASE.has(ch)) costs.push(1);
    else if (shift.has(ch)) costs.push(2);
    else return undefined;
  }
  return costs;
}

/** Greedy split into parts of at most `room`; returns how many characters each part takes. */
function pack(costs: readonly number[], room: number): number[] {
  const parts: number[] = [];
  let count = 0;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > room && count > 0) {
      parts.push(count);
      count = 0;
      used = 0;
    }
    count++;
    used += cost;
  }
  parts.push(count);
  return parts;
}

interface Layout {
  plan: SmsPlan;
  /** Characters per part. */
  parts: number[];
}

function layout(text: string, options: SmsPlanOptions): Layout {
  const chars = [...text];
  const candidates: SmsEncoding[] = options.allowTurkishShift ? ['gsm7', 'gsm7-turkish', 'ucs2'] : ['gsm7', 'ucs2'];
  for (const encoding of candidates) {
    const costs = characterCosts(chars, encoding);
    if (!costs) continue;
    const total = costs.reduce((a, b) => a + b, 0);
    const single = capacity(encoding, false);
    if (total <= single) return { plan: { encoding, segments: 1, septetsOrChars: total, perSegment: single }, parts: [chars.length] };
    const perSegment = capacity(encoding, true);
    const parts = pack(costs, perSegment);
    return { plan: { encoding, segments: parts.length, septetsOrChars: total, perSegment }, parts };
  }
  throw new Error('unreachable: UCS-2 encodes every text');
}

/** The cheapest encoding for the text and what it costs. */
export function planSms(text: string, options: SmsPlanOptions): SmsPlan {
  return layout(text, options).plan;
}

/** The text of each part, in the plan's encoding (an ESC pair or a surrogate pair is never split). */
export function splitSms(text: string, options: SmsPlanOptions): { plan: SmsPlan; parts: string[] } {
  const { plan, parts } = layout(text, options);
  const chars = [...text];
  let start = 0;
  return {
    plan,
    parts: parts.map((count) => {
      const part = chars.slice(start, start + count).join('');
      start += count;
      return part;
    }),
  };
}

/**
 * The bytes of one part's text: unpacked septets (one per octet, as SMPP data_coding 0 carries
 * them) for the GSM alphabets, UTF-16BE for UCS-2. Throws when the text does not fit the encoding.
 */
export function encodeUserData(text: string, encoding: SmsEncoding): Uint8Array {
  if (encoding === 'ucs2') {
    const out = new Uint8Array(text.length * 2);
    for (let i = 0; i < text.length; i++) {
      out[2 * i] = text.charCodeAt(i) >> 8;
      out[2 * i + 1] = text.charCodeAt(i) & 0xff;
    }
    return out;
  }
  const shift = SHIFT[encoding];
  const septets: number[] = [];
  for (const ch of text) {
    const base = BASE.get(ch);
    const shifted = shift.get(ch);
    if (base !== undefined) septets.push(base);
    else if (shifted !== undefined) septets.push(ESC, shifted);
    else throw new Error(`character U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} is not in the ${encoding} alphabet`);
  }
  return Uint8Array.from(septets);
}

const graphemes = new Intl.Segmenter('tr', { granularity: 'grapheme' });

/**
 * Cuts a text so it costs at most `maxSegments` parts: whole characters (grapheme clusters),
 * trailing space dropped, an ellipsis added. The ellipsis is "…" only when the text is UCS-2
 * anyway: U+2026 is not in the GSM alphabets and would turn a 7-bit text into UCS-2, costing
 * more parts than it saves, so 7-bit texts end in "...". The text is NFC-normalised first so
 * a decomposed "İ" (I + U+0307) stays in the 7-bit alphabet.
 */
export function fitSms(text: string, maxSegments: number, options: SmsPlanOptions): string {
  if (!Number.isInteger(maxSegments) || maxSegments < 1 || maxSegments > 255) throw new RangeError(`maxSegments must be an integer from 1 to 255, not ${maxSegments}`);
  const normalized = text.normalize('NFC');
  if (planSms(normalized, options).segments <= maxSegments) return normalized;
  // Every character costs at least one septet, so nothing past this many can fit; bounds the work on a huge input.
  const pieces = Array.from(graphemes.segment(normalized), (s) => s.segment).slice(0, maxSegments * capacity('gsm7', false));
  const candidate = (count: number) => {
    const head = pieces.slice(0, count).join('').trimEnd();
    return head + (planSms(head, options).encoding === 'ucs2' ? '…' : '...');
  };
  let fits = 0;
  let tooLong = pieces.length;
  while (tooLong - fits > 1) {
    const middle = Math.floor((fits + tooLong) / 2);
    if (planSms(candidate(middle), options).segments <= maxSegments) fits = middle;
    else tooLong = middle;
  }
  return candidate(fits);
}
