import { defineCommand } from '../core/command.js';
import { UserError } from '../core/errors.js';

// Not built yet: tracked in issue #6. Says so plainly instead of pretending.
export const driftCommand = defineCommand({
  name: 'drift',
  summary: '(not available yet, issue #6)',
  settings: {},
  run: async () => {
    throw new UserError('`mlcycle drift` is not available in this build yet (issue #6)', { exitCode: 69 });
  },
});
