import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS, sendError } from './responses.js';

/** The page's HTML and CSS, as written. */
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
/** The page's scripts, compiled from ui/ by `tsc -b`. */
const SCRIPTS_DIR = fileURLToPath(new URL('../../dist/browser/ui/', import.meta.url));

const PAGES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: `${PUBLIC_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/login': { file: `${PUBLIC_DIR}login.html`, type: 'text/html; charset=utf-8' },
  '/console.css': { file: `${PUBLIC_DIR}console.css`, type: 'text/css; charset=utf-8' },
};

/** The file behind a static path, or undefined: a fixed list and one folder of scripts. */
export function staticFile(path: string): { file: string; type: string } | undefined {
  const page = PAGES[path];
  if (page !== undefined) return page;
  const script = /^\/ui\/([a-z0-9-]+\.js)$/.exec(path)?.[1];
  return script === undefined
    ? undefined
    : { file: `${SCRIPTS_DIR}${script}`, type: 'text/javascript; charset=utf-8' };
}

export async function sendFile(
  response: ServerResponse,
  target: { file: string; type: string },
  edit?: (text: string) => string,
): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(target.file);
    if (edit !== undefined) body = Buffer.from(edit(body.toString('utf8')));
  } catch {
    sendError(response, 404, 'not_found', 'no such file (is the console built? npm run build)');
    return;
  }
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': target.type,
    // The files change only with a new version of s3relay; revalidating them is cheap.
    'cache-control': 'no-cache',
  });
  response.end(body);
}
