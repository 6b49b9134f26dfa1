// A tiny HTML/SVG builder for the eval report: text and attribute values are always escaped, and
// only markup made here can be nested unescaped (the Markup type), so no string from a file name,
// a manifest or an error message can turn into markup.

export interface Markup {
  readonly markup: string;
}

export type Child = Markup | string | number | null | undefined | false | readonly Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined>;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function isMarkup(c: unknown): c is Markup {
  return typeof c === 'object' && c !== null && 'markup' in c;
}

function render(c: Child): string {
  if (c === null || c === undefined || c === false) return '';
  if (Array.isArray(c)) return c.map(render).join('');
  if (isMarkup(c)) return c.markup;
  return escapeText(String(c));
}

const NAME = /^[a-zA-Z][a-zA-Z0-9:-]*$/;
const VOID = new Set(['br', 'hr', 'img', 'meta', 'col', 'input', 'link']);

/** <name attrs>children</name>; attributes with null/undefined/false are left out, true is bare. */
export function h(name: string, attrs: Attrs = {}, ...children: Child[]): Markup {
  if (!NAME.test(name)) throw new Error(`markup: bad element name ${name}`);
  let open = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (!NAME.test(k)) throw new Error(`markup: bad attribute name ${k}`);
    if (v === null || v === undefined || v === false) continue;
    open += v === true ? ` ${k}` : ` ${k}="${escapeText(String(v))}"`;
  }
  if (VOID.has(name)) return { markup: `${open}>` };
  return { markup: `${open}>${render(children)}</${name}>` };
}

/** Several pieces as one. */
export function fragment(...children: Child[]): Markup {
  return { markup: render(children) };
}

/** A fixed string the caller vouches for (a doctype, a constant style sheet). */
export function trusted(constant: string): Markup {
  return { markup: constant };
}
