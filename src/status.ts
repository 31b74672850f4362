// The status-bar item: my runs that have not ended and the approvals waiting for my decision
// ("⟳ 2 running · 1 to approve"), as the Activity keeps them; a click opens the Approvals tab
// (the runs when nothing waits).
import { Widget } from '@lumino/widgets';

import { Activity } from './activity';

export class StatusItem extends Widget {
  constructor(activity: Activity, onClick: (approvals: number) => void) {
    super({ node: document.createElement('button') });
    this.addClass('jp-wfnb-Status');
    this.addClass('jp-mod-highlighted');
    this._activity = activity;
    const node = this.node as HTMLButtonElement;
    node.type = 'button';
    node.addEventListener('click', () => onClick(activity.approvals.length));
    activity.changed.connect(() => this._draw());
    this._draw();
  }

  private _draw(): void {
    const running = this._activity.running;
    const approvals = this._activity.approvals;
    const parts: string[] = [];
    if (running.length) {
      parts.push(`⟳ ${running.length} running`);
    }
    if (approvals.length) {
      parts.push(`${approvals.length} to approve`);
    }
    this.node.textContent = parts.length ? parts.join(' · ') : 'Workflows: idle';
    this.node.dataset.running = String(running.length);
    this.node.dataset.approvals = String(approvals.length);
    this.node.classList.toggle('jp-wfnb-Status-waiting', approvals.length > 0);

    const lines = running.map((run) => `${run.workflow || 'run'} ${run.id}: ${run.status}`);
    lines.unshift(
      running.length
        ? `Your runs that have not ended (${running.length}):`
        : 'None of your runs is active.'
    );
    lines.push(
      approvals.length
        ? `Waiting for your decision: ${approvals
            .map((a) => `${a.workflow}/${a.step} (run ${a.run_id})`)
            .join(', ')}. Click to open Approvals.`
        : 'Nothing waits for your decision. Click to open the workflow runs.'
    );
    this.node.title = lines.join('\n');
  }

  private _activity: Activity;
}
