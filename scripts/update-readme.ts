// Rewrites the generated sections of README.md: `npm run readme`.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '@s3relay/cli';
import { replaceSection } from '../test/unit/readme-sections.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
writeFileSync(path, replaceSection(readme, 'config-table', configTableMarkdown()));
