// The wfnb REST API (`<base_url>/wfnb/api/`, docs/server-api.md) as the shell uses it: who I
// am, the workflows and their files, my runs, the approvals waiting for me, decisions, and
// executed notebooks. Requests go through JupyterLab's ServerConnection (its login, its XSRF
// header), so the server acts as Jupyter's user.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IMe {
  user: string;
  roles: string[];
  capabilities: Record<string, boolean>;
  workspace: string;
  /** The workspace as the contents API names it; null when outside the server's root. */
  contents_path: string | null;
}

export interface IWorkflow {
  name: string;
  title: string;
  /** The file defining it, relative to the workspace (absolute when outside it). */
  path: string | null;
  can_run: boolean;
}

export interface IRun {
  id: string;
  workflow: string;
  status: string;
  created_by: string | null;
}

export interface IApproval {
  run_id: string;
  workflow: string;
  step: string;
  description: string;
  fields: { name: string; required?: boolean; default?: unknown }[];
  started_by: string | null;
  can_decide: boolean;
}

export interface IExecutedNotebook {
  name: string;
  path: string;
  step: string;
  attempt: number;
  content: any;
  last_modified: string;
}

/** The statuses of a run that has not ended; a run's end is any other. */
export const ACTIVE = ['Pending', 'Running', 'Waiting for Approval'];
export const WAITING = 'Waiting for Approval';

/** An answer other than 2xx: its status and the server's JSON (`message`, `capability`, ...). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { message?: string; capability?: string; [key: string]: unknown }
  ) {
    super(body.message ?? `HTTP ${status}`);
  }
}

export class Api {
  constructor(settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this.settings = settings;
  }

  readonly settings: ServerConnection.ISettings;

  /** `path` under wfnb/api/ (with query `params`), its JSON answer; ApiError otherwise. */
  async request<T>(
    path: string,
    init: { method?: string; body?: unknown } = {},
    params: Record<string, string> = {}
  ): Promise<T> {
    const query = URLExt.objectToQueryString(params);
    const url = URLExt.join(this.settings.baseUrl, 'wfnb/api', path) + query;
    const response = await ServerConnection.makeRequest(
      url,
      {
        method: init.method ?? 'GET',
        body: init.body === undefined ? undefined : JSON.stringify(init.body)
      },
      this.settings
    );
    const text = await response.text();
    let body: any = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { message: text };
    }
    if (!response.ok) {
      throw new ApiError(response.status, body);
    }
    return body as T;
  }

  /** Who the server takes me for (asked once per page). */
  me(): Promise<IMe> {
    if (!this._me) {
      this._me = this.request<IMe>('me');
      this._me.catch(() => (this._me = null)); // a failure is asked again next time
    }
    return this._me;
  }

  async workflows(): Promise<IWorkflow[]> {
    return (await this.request<{ workflows: IWorkflow[] }>('workflows')).workflows;
  }

  /** The runs in one status (at most 500: a user has far fewer active ones), `q` filtering. */
  async runs(status: string, q = ''): Promise<IRun[]> {
    const params: Record<string, string> = { status, limit: '500' };
    if (q) {
      params.q = q;
    }
    return (await this.request<{ runs: IRun[] }>('runs', {}, params)).runs;
  }

  async approvals(): Promise<IApproval[]> {
    return (await this.request<{ approvals: IApproval[] }>('approvals')).approvals;
  }

  decide(
    runId: string,
    step: string,
    decision: 'approve' | 'reject',
    comment = ''
  ): Promise<{ run: IRun }> {
    return this.request(`runs/${encodeURIComponent(runId)}/decision`, {
      method: 'POST',
      body: { decision, step, comment: comment || null }
    });
  }

  notebook(runId: string, name: string): Promise<IExecutedNotebook> {
    return this.request(
      `runs/${encodeURIComponent(runId)}/notebooks/${encodeURIComponent(name)}`
    );
  }

  private _me: Promise<IMe> | null = null;
}
