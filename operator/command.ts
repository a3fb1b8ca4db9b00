import { defineCommand } from '../core/command.js';
import { UserError } from '../core/errors.js';

// Not built yet: tracked in issue #7. Says so plainly instead of pretending.
export const operatorCommand = defineCommand({
  name: 'operator',
  summary: '(not available yet, issue #7)',
  settings: {},
  run: async () => {
    throw new UserError('`mlcycle operator` is not available in this build yet (issue #7)', { exitCode: 69 });
  },
});
