#!/usr/bin/env node
import dotenv from 'dotenv';
import { runProgram } from './program.js';

// A .env file is for local runs; the real environment always wins over it.
dotenv.config({ quiet: true });

const code = await runProgram(process.argv.slice(2), { env: process.env });
process.exitCode = code;
