// JupyterLab notifications: a step waiting for my decision (Approve / Reject / Details), and
// the end of a run I started (Details). Each once per run and state; a waiting one goes away
// when the step no longer waits (decided here, in its tab or by someone else).
import { InputDialog, Notification } from '@jupyterlab/apputils';

import { Activity, IEnded } from './activity';
import { Api, IApproval, IRun } from './api';
import { IIntent } from './view';

const ENDED_TYPE: Record<string, Notification.TypeOptions> = {
  Completed: 'success',
  Failed: 'error',
  Error: 'error',
  Cancelled: 'warning',
  Rejected: 'warning'
};

/** "Expense approval run 2026…" or "run 2026…" when its workflow is not known. */
function runName(run: { workflow?: string; id?: string; run_id?: string }): string {
  const id = run.id ?? run.run_id;
  return run.workflow ? `${run.workflow} run ${id}` : `run ${id}`;
}

export class Notifier {
  constructor(activity: Activity, api: Api, open: (intent: IIntent) => void) {
    this._api = api;
    this._open = open;
    activity.waiting.connect((_, approval) => this._waiting(approval));
    activity.ended.connect((_, ended) => this._ended(ended));
    activity.changed.connect(() => this._forget(activity.approvals));
  }

  private _details(runId: string): Notification.IAction {
    return {
      label: 'Details',
      caption: 'Open the run in a tab',
      displayType: 'link',
      callback: () => this._open({ action: 'details', run_id: runId })
    };
  }

  private _waiting(approval: IApproval): void {
    const { run_id: runId, step } = approval;
    // a step with approver fields (a cost centre, ...) is approved in its form, in the run's tab
    const form = approval.fields?.length > 0;
    const by = approval.started_by ? ` (started by ${approval.started_by})` : '';
    const id = Notification.warning(
      `${runName(approval)}${by} waits for your decision at step ${step}` +
        (approval.description ? `: ${approval.description}` : '.'),
      {
        autoClose: false,
        actions: [
          {
            label: form ? 'Approve…' : 'Approve',
            caption: form ? 'Fill in the approval form in the run tab' : 'Approve this step',
            displayType: 'accent',
            callback: () =>
              form
                ? this._open({ action: 'details', run_id: runId })
                : void this._decide(approval, 'approve')
          },
          {
            label: 'Reject',
            caption: 'Reject this step, with a comment',
            displayType: 'warn',
            callback: () => void this._reject(approval)
          },
          this._details(runId)
        ]
      }
    );
    this._shown.set(`${runId}:${step}`, id);
  }

  private async _reject(approval: IApproval): Promise<void> {
    const answer = await InputDialog.getText({
      title: `Reject ${runName(approval)}?`,
      label: `Step ${approval.step}: a comment for whoever started it (optional)`,
      placeholder: 'Why',
      okLabel: 'Reject'
    });
    if (answer.button.accept) {
      await this._decide(approval, 'reject', answer.value ?? '');
    }
  }

  private async _decide(
    approval: IApproval,
    decision: 'approve' | 'reject',
    comment = ''
  ): Promise<void> {
    const { run_id: runId, step } = approval;
    try {
      await this._api.decide(runId, step, decision, comment);
      Notification.success(
        `${decision === 'approve' ? 'Approved' : 'Rejected'}: ${runName(approval)}, step ${step}.`,
        { autoClose: 5000, actions: [this._details(runId)] }
      );
    } catch (error) {
      // refused, decided already, the deadline passed: the server says which
      Notification.error(`${runName(approval)}: ${(error as Error).message}`, {
        autoClose: false,
        actions: [this._details(runId)]
      });
    }
  }

  private _ended({ run, status }: IEnded): void {
    const key = `${run.id}:${status}`;
    if (this._endings.has(key)) {
      return;
    }
    this._endings.add(key);
    Notification.emit(
      `${runName(run as IRun)} ended: ${status}.`,
      ENDED_TYPE[status] ?? 'info',
      { autoClose: status === 'Completed' ? 8000 : false, actions: [this._details(run.id)] }
    );
  }

  // a waiting notification whose step no longer waits for me is taken back
  private _forget(waiting: IApproval[]): void {
    const still = new Set(waiting.map((a) => `${a.run_id}:${a.step}`));
    for (const [key, id] of this._shown) {
      if (!still.has(key)) {
        Notification.dismiss(id);
        this._shown.delete(key);
      }
    }
  }

  private _api: Api;
  private _open: (intent: IIntent) => void;
  private _shown = new Map<string, string>(); // run:step -> the notification's id
  private _endings = new Set<string>(); // run:status announced
}
