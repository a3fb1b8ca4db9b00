import { defineCommand } from '../core/command.js';
import { UserError } from '../core/errors.js';

// Not built yet: tracked in issue #8. Says so plainly instead of pretending.
export const demoCommand = defineCommand({
  name: 'demo',
  summary: '(not available yet, issue #8)',
  settings: {},
  run: async () => {
    throw new UserError('`mlcycle demo` is not available in this build yet (issue #8)', { exitCode: 69 });
  },
});
