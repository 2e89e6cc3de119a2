// A vitest reporter that names, at the end of the run, each test file that started but never reported an end
// (its worker process died: a native crash, the OOM killer, a signal). The default reporter counts such a
// file nowhere and says only "Worker exited unexpectedly"; CI shows the end of the log, so the name goes last.
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class UnfinishedFiles implements Reporter {
  private readonly started = new Map<string, number>();
  private readonly running = new Map<string, string>();

  onTestModuleStart(module: TestModule): void {
    this.started.set(module.moduleId, Date.now());
  }

  onTestCaseReady(test: TestCase): void {
    this.running.set(test.module.moduleId, test.fullName);
  }

  onTestModuleEnd(module: TestModule): void {
    this.started.delete(module.moduleId);
  }

  onTestRunEnd(): void {
    for (const [file, at] of this.started) {
      const test = this.running.get(file);
      process.stderr.write(`[unfinished] ${file}: started ${new Date(at).toISOString()} and never finished (its worker exited)${test === undefined ? '' : `; last test started: ${test}`}\n`);
    }
  }
}
