import { defineCommand } from '../core/command.js';
import { UserError } from '../core/errors.js';

// Not built yet: tracked in issue #4. Says so plainly instead of pretending.
export const trainCommand = defineCommand({
  name: 'train',
  summary: '(not available yet, issue #4)',
  settings: {},
  run: async () => {
    throw new UserError('`mlcycle train` is not available in this build yet (issue #4)', { exitCode: 69 });
  },
});
