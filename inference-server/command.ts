import { defineCommand } from '../core/command.js';
import { UserError } from '../core/errors.js';

// Not built yet: tracked in issue #5. Says so plainly instead of pretending.
export const serveCommand = defineCommand({
  name: 'serve',
  summary: '(not available yet, issue #5)',
  settings: {},
  run: async () => {
    throw new UserError('`mlcycle serve` is not available in this build yet (issue #5)', { exitCode: 69 });
  },
});
