// Rewrites the generated sections of README.md from their sources: `npm run readme`.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '@s3relay/cli';
import { generatedSections, replaceSection } from '../test/unit/readme-sections.js';

const path = new URL('../README.md', import.meta.url);
let readme = readFileSync(path, 'utf8');
for (const [name, content] of Object.entries(generatedSections(configTableMarkdown()))) {
  readme = replaceSection(readme, name, content);
}
writeFileSync(path, readme);
