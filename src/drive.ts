// Executed notebooks as documents: a read-only contents drive, `wfnb-runs:<run id>/<file>`,
// over GET runs/<id>/notebooks/<file>. The contents API cannot open them: a notebook step's
// executed copy is kept in the workspace's hidden `.wfnb/artifacts/<run id>/` folder, and the
// workspace may lie outside the server's root. "Save As" keeps a copy anywhere else.
import { PathExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { Api } from './api';

export const DRIVE = 'wfnb-runs';

/** What the docmanager opens the executed notebook `notebook` (a task's path) of a run by. */
export function executedPath(runId: string, notebook: string): string {
  return `${DRIVE}:${runId}/${PathExt.basename(notebook)}`;
}

export class ExecutedNotebooks implements Contents.IDrive {
  constructor(api: Api) {
    this._api = api;
    this.serverSettings = api.settings;
  }

  readonly name = DRIVE;
  readonly serverSettings: ServerConnection.ISettings;

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const [runId, name] = localPath.split('/');
    if (!name) {
      // a run's folder (or the drive's root): what the file browser would list, nothing
      return {
        name: runId ?? '',
        path: localPath,
        type: 'directory',
        writable: false,
        created: EPOCH,
        last_modified: EPOCH,
        mimetype: '',
        format: 'json',
        content: options?.content === false ? null : []
      };
    }
    const notebook = await this._api.notebook(runId, name);
    return {
      name,
      path: localPath,
      type: 'notebook',
      writable: false,
      created: notebook.last_modified,
      last_modified: notebook.last_modified,
      mimetype: 'application/x-ipynb+json',
      format: 'json',
      content: options?.content === false ? null : notebook.content
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    throw readOnly(localPath, 'be downloaded from here');
  }

  async newUntitled(options?: Contents.ICreateOptions): Promise<Contents.IModel> {
    throw readOnly(options?.path ?? '', 'hold new files');
  }

  async delete(localPath: string): Promise<void> {
    throw readOnly(localPath, 'be deleted');
  }

  async rename(oldLocalPath: string): Promise<Contents.IModel> {
    throw readOnly(oldLocalPath, 'be renamed');
  }

  async save(localPath: string): Promise<Contents.IModel> {
    throw readOnly(localPath, 'be changed');
  }

  async copy(localPath: string): Promise<Contents.IModel> {
    throw readOnly(localPath, 'be copied here');
  }

  // no checkpoints: nothing here changes
  async createCheckpoint(): Promise<Contents.ICheckpointModel> {
    return { id: 'executed', last_modified: EPOCH };
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(): Promise<void> {}

  async deleteCheckpoint(): Promise<void> {}

  private _api: Api;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _disposed = false;
}

const EPOCH = new Date(0).toISOString();

function readOnly(path: string, what: string): Error {
  return new Error(
    `${DRIVE}:${path} is a run's executed notebook, kept as the run left it: it cannot ${what}. ` +
      'Use File › Save Notebook As… to keep a copy among your files.'
  );
}
