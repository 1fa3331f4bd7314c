#!/usr/bin/env node
// Committed shim so that npm can link the binary at install time, before `npm run build`.
import '../dist/main.js';
