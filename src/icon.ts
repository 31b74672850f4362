import { LabIcon } from '@jupyterlab/ui-components';

import svgstr from '../style/icons/workflows.svg';

/** A small graph of steps: the Workflows sidebar tab, its tabs and launcher tile. */
export const workflowsIcon = new LabIcon({ name: 'wfnb:workflows', svgstr });
