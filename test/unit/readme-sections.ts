/** The text between `<!-- name:start -->` and `<!-- name:end -->` in a Markdown document. */
export function readSection(markdown: string, name: string): string {
  const start = markdown.indexOf(`<!-- ${name}:start -->`);
  const end = markdown.indexOf(`<!-- ${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`README has no ${name} section`);
  return markdown.slice(start + `<!-- ${name}:start -->`.length, end).trim();
}

/** The document with the section's content replaced. */
export function replaceSection(markdown: string, name: string, content: string): string {
  const start = markdown.indexOf(`<!-- ${name}:start -->`) + `<!-- ${name}:start -->`.length;
  const end = markdown.indexOf(`<!-- ${name}:end -->`);
  if (start < `<!-- ${name}:start -->`.length || end < start)
    throw new Error(`README has no ${name} section`);
  return `${markdown.slice(0, start)}\n\n${content.trim()}\n\n${markdown.slice(end)}`;
}
