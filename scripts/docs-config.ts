// Rewrites the generated reference section of docs/configuration.md from the config schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigReference } from '../agent/config/reference.js';

const FILE = new URL('../docs/configuration.md', import.meta.url);
const BEGIN = '<!-- BEGIN GENERATED REFERENCE (npm run docs:config) -->';
const END = '<!-- END GENERATED REFERENCE -->';
const doc = readFileSync(FILE, 'utf8');
const a = doc.indexOf(BEGIN);
const b = doc.indexOf(END);
if (a < 0 || b < a) throw new Error('docs/configuration.md lacks the generated-section markers');
writeFileSync(
  FILE,
  `${doc.slice(0, a + BEGIN.length)}\n${renderConfigReference()}\n${doc.slice(b)}`,
);
process.stdout.write('docs/configuration.md updated\n');
