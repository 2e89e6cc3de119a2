// `mmfuse` run in this process (the CLI's `main`), its output collected: for tests that call many commands.
import { main } from 'mmfuse';

export interface InProcessResult { code: number; stdout: string; stderr: string }

/** Run `mmfuse <argv>` in this process with `cwd` as its working folder. */
export async function runMain(argv: string[], cwd: string): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd });
  return { code, stdout, stderr };
}
