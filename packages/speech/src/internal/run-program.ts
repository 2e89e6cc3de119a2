/** Running an external program (espeak-ng) with a typed error when it is missing or fails. */
import { spawn } from 'node:child_process';
import { ConfigError, IoError } from '@mmfuse/core';

export interface ProgramResult { stdout: Buffer; stderr: string }

/** Debian packages that provide the programs mmfuse may run. */
const PACKAGES: Record<string, string> = { 'espeak-ng': 'espeak-ng' };

/**
 * Run `program args`, writing `input` to its stdin. Resolves with its output on exit code 0.
 * @throws ConfigError naming the Debian package when the program is not installed; IoError when it fails.
 */
export function runProgram(program: string, args: readonly string[], input: string, what: string): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString('utf8'); });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const pkg = PACKAGES[program.split('/').pop() ?? program] ?? program;
        reject(new ConfigError(`${what} needs the program "${program}", which is not installed (Debian/Ubuntu: apt-get install ${pkg}); or pick the built-in "flite" engine`, { details: { program, debianPackage: pkg } }));
      } else {
        reject(new IoError(`${what}: could not run "${program}": ${e.message}`, { details: { program, errno: e.code } }));
      }
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr: err });
      else reject(new IoError(`${what}: "${program} ${args.join(' ')}" exited with ${code ?? signal}: ${err.trim() || '(no message)'}`, { details: { program, exitCode: code } }));
    });
    child.stdin.on('error', () => { /* the close handler reports the failure */ });
    child.stdin.end(input, 'utf8');
  });
}
