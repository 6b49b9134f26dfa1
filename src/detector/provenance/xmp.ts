// Reads a few properties out of an XMP packet without an XML parser (none exists in a worker or
// in Node): each property may be written as an attribute (`xmp:CreatorTool="…"`) or an element
// (`<xmp:CreatorTool>…</xmp:CreatorTool>`, possibly wrapping rdf:Alt/rdf:Seq items).

export interface XmpFields {
  creatorTool?: string;
  software?: string;
  description?: string;
  title?: string;
  /** IPTC digital source type (a cv.iptc.org URI, or its last segment). */
  digitalSourceType?: string;
  /** Adobe's C2PA pointer: the packet says Content Credentials exist (maybe remotely). */
  provenance?: string;
}

const PROPS: Array<[keyof XmpFields, string]> = [
  ['creatorTool', 'xmp:CreatorTool'],
  ['software', 'tiff:Software'],
  ['description', 'dc:description'],
  ['title', 'dc:title'],
  ['digitalSourceType', 'Iptc4xmpExt:DigitalSourceType'],
  ['provenance', 'dcterms:provenance'],
];

const MAX_VALUE = 2_000;

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const lower = e.toLowerCase();
    if (lower === 'amp') return '&';
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    const code = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function readProp(xml: string, name: string): string | undefined {
  const n = escapeRe(name);
  const attr = new RegExp(`\\s${n}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(xml);
  if (attr) return unescapeXml(attr[1] ?? attr[2] ?? '').trim().slice(0, MAX_VALUE) || undefined;
  // The element's content, up to its end tag (bounded: no nested element of the same name).
  const open = new RegExp(`<${n}(\\s[^>]*)?>`).exec(xml);
  if (!open) return undefined;
  const start = open.index + open[0].length;
  const end = xml.indexOf(`</${name}>`, start);
  if (end < 0) return undefined;
  const inner = xml.slice(start, Math.min(end, start + 20 * MAX_VALUE));
  // rdf:resource="…" (IPTC terms are often written so), else the text of the first item.
  const resource = /rdf:resource\s*=\s*"([^"]*)"/.exec(inner);
  const text = resource ? resource[1] ?? '' : inner.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');
  return unescapeXml(text).trim().slice(0, MAX_VALUE) || undefined;
}

export function readXmp(xml: string): XmpFields {
  const out: XmpFields = {};
  for (const [key, name] of PROPS) {
    const v = readProp(xml, name);
    if (v) out[key] = v;
  }
  return out;
}
