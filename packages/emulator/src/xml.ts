import { DOMParser, type Element } from '@xmldom/xmldom';

const ELEMENT_NODE = 1;

/**
 * Parses a small XML request body and returns its root element, or `undefined` when the text is
 * not well-formed XML. Namespaces are ignored: elements are matched by local name, as S3 does for
 * documents sent with or without `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`.
 */
export function parseXmlRoot(text: string): Element | undefined {
  const parser = new DOMParser({
    onError: (level, message) => {
      // xmldom recovers from "error"-level problems (an unclosed tag, a stray `&`); S3 refuses them.
      if (level !== 'warning') throw new Error(message);
    },
  });
  try {
    return parser.parseFromString(text, 'text/xml').documentElement ?? undefined;
  } catch {
    return undefined;
  }
}

/** The child elements of `parent`, in document order. */
export function childElements(parent: Element): Element[] {
  const children: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === ELEMENT_NODE) children.push(node as Element);
  }
  return children;
}

/** The text of an element (entities and CDATA decoded, whitespace kept). */
export function textOf(element: Element): string {
  return element.textContent ?? '';
}

/** Escapes text for an XML element or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char] ?? char);
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
