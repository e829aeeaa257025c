// Runs an o2nm plan through one native batch call. On failure it says exactly which steps ran,
// which failed (with the kernel's errno and the fix), what was rolled back, and what did not run.
import { type AttrOp, type KernelBackend, BatchError } from '../kernel/backend.js';
import { KernelError } from '../kernel/errors.js';
import { rememberWrittenNodes } from '../kernel/o2nm.js';
import { hintFor } from '../model/hints.js';
import { type O2nmPlan, type PlanBlocker, type PlanStep, planRollback } from '../model/o2nmPlan.js';

export interface ApplyResult {
  cluster: string;
  /** steps that ran (all of them on success) */
  applied: PlanStep[];
  noop: boolean;
  dryRun: boolean;
}

export class PlanBlockedError extends Error {
  readonly code = 'E_PLAN_BLOCKED';
  constructor(readonly blocked: PlanBlocker[]) {
    super(
      `nothing was applied: ${blocked.length === 1 ? 'one change cannot' : `${blocked.length} changes cannot`} be made on the running kernel:\n` +
        blocked.map((b) => `  ${b.path}: ${b.reason}\n    fix: ${b.fix}`).join('\n'),
    );
    this.name = 'PlanBlockedError';
  }
}

export class ApplyError extends Error {
  readonly code = 'E_APPLY_FAILED';
  constructor(
    readonly failed: PlanStep,
    override readonly cause: KernelError,
    readonly done: PlanStep[],
    readonly notRun: PlanStep[],
    readonly rolledBack: PlanStep[],
    readonly rollbackFailed: { step: PlanStep; error: KernelError }[],
    /** what this run changed and a rollback cannot restore */
    readonly notUndone: string[] = [],
  ) {
    const total = done.length + 1 + notRun.length;
    const lines = [
      `apply stopped at step ${done.length + 1} of ${total}: ${describeStep(failed)}: ${cause.code}${cause.hint ? ` — ${cause.hint}` : ''}`,
      done.length ? `done (${done.length}):\n${done.map((s) => `  ${describeStep(s)}`).join('\n')}` : 'done: nothing',
      rolledBack.length ? `rolled back: ${rolledBack.map(describeStep).join('; ')}` : '',
      rollbackFailed.length ? `rollback FAILED: ${rollbackFailed.map((r) => `${describeStep(r.step)}: ${r.error.code}`).join('; ')}` : '',
      notUndone.length ? `not undone: ${notUndone.join('; ')}` : '',
      notRun.length ? `not run (${notRun.length}): ${notRun.slice(0, 5).map(describeStep).join('; ')}${notRun.length > 5 ? '; …' : ''}` : '',
    ];
    super(lines.filter(Boolean).join('\n'));
    this.name = 'ApplyError';
  }

  get hint(): string | undefined {
    return this.cause.hint;
  }

  toJSON() {
    return {
      code: this.code,
      message: this.message,
      failed: { ...this.failed, error: this.cause.toJSON() },
      done: this.done,
      rolledBack: this.rolledBack,
      rollbackFailed: this.rollbackFailed.map((r) => ({ ...r.step, error: r.error.toJSON() })),
      notUndone: this.notUndone,
      notRun: this.notRun,
    };
  }
}

export function describeStep(s: PlanStep): string {
  if (s.op === 'write') return `write ${JSON.stringify(s.data)} to ${s.path}`;
  return `${s.op} ${s.path}`;
}

export function planToOps(steps: PlanStep[]): AttrOp[] {
  return steps.map((s) => (s.op === 'write' ? { op: 'write', path: s.path, data: s.data ?? '' } : { op: s.op, path: s.path }));
}

export interface ApplyOptions {
  dryRun?: boolean;
  /**
   * What a failure undoes: 'node' (default) removes the half-made node, as libo2cb does; 'all'
   * undoes every step that ran (nodes and the cluster it created removed, attributes it changed
   * written back), so a failed start leaves the kernel as it found it.
   */
  rollback?: 'node' | 'all';
}

/** Runs rollback steps one by one, so that one refusal does not stop the others. */
export function runRollback(backend: KernelBackend, steps: PlanStep[]): { rolledBack: PlanStep[]; rollbackFailed: { step: PlanStep; error: KernelError }[] } {
  const rolledBack: PlanStep[] = [];
  const rollbackFailed: { step: PlanStep; error: KernelError }[] = [];
  for (const undo of steps) {
    try {
      if (undo.op === 'rmdir') backend.rmdir(undo.path);
      else if (undo.op === 'write') backend.write(undo.path, undo.data ?? '');
      else backend.mkdir(undo.path);
      rolledBack.push(undo);
    } catch (re) {
      const ke = re instanceof KernelError ? re : KernelError.fromErrno(5, undo.op, undo.path);
      if (!ke.hint) ke.hint = hintFor({ op: undo.op, path: undo.path, code: ke.code });
      rollbackFailed.push({ step: undo, error: ke });
    }
  }
  return { rolledBack, rollbackFailed };
}

export function applyO2nmPlan(backend: KernelBackend, plan: O2nmPlan, options: ApplyOptions = {}): ApplyResult {
  if (plan.blocked.length) throw new PlanBlockedError(plan.blocked);
  const base = { cluster: plan.cluster, noop: plan.steps.length === 0, dryRun: options.dryRun === true };
  if (plan.steps.length === 0 || options.dryRun) return { ...base, applied: [] };
  try {
    backend.batch(planToOps(plan.steps));
    // the next read of this backend trusts what was just written (lib/kernel/o2nm.ts)
    rememberWrittenNodes(backend, plan.cluster, plan.steps.filter((s) => s.op === 'write'));
    return { ...base, applied: plan.steps };
  } catch (e) {
    if (!(e instanceof BatchError)) throw e;
    const failed = plan.steps[e.step]!;
    const done = plan.steps.slice(0, e.completed);
    const notRun = plan.steps.slice(e.step + 1);
    const cause = new KernelError({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, hint: hintFor({ op: failed.op, path: failed.path, code: e.code }) });
    // A node this plan created but could not finish is removed again, as libo2cb does: a half
    // configured node would hold its name and, once num is set, its number.
    if (options.rollback === 'all') {
      const undo = planRollback(plan, e.completed);
      // the failed step's own node directory, if the failure was after its mkdir, is in `done`
      const r = runRollback(backend, undo.steps);
      throw new ApplyError(failed, cause, done, notRun, r.rolledBack, r.rollbackFailed, undo.cannot);
    }
    const rolledBack: PlanStep[] = [];
    const rollbackFailed: { step: PlanStep; error: KernelError }[] = [];
    const created = done.find((s) => s.createsNode && s.node === failed.node);
    if (failed.node && created) {
      const undo: PlanStep = { op: 'rmdir', path: created.path, why: `roll back the partly configured node '${failed.node}'`, node: failed.node };
      try {
        backend.rmdir(undo.path);
        rolledBack.push(undo);
      } catch (re) {
        rollbackFailed.push({ step: undo, error: re instanceof KernelError ? re : KernelError.fromErrno(5, 'rmdir', undo.path) });
      }
    }
    throw new ApplyError(failed, cause, done, notRun, rolledBack, rollbackFailed);
  }
}
