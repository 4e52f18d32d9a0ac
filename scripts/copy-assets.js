// Copies the task's non-TypeScript files next to the compiled entry, so the unbundled
// build (used by the L0 and integration tests) has the same layout as the packaged task:
// build/tasks/ConvertToWif/{index.js, task.json, icon.png}.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
for (const task of fs.readdirSync(path.join(root, 'tasks'))) {
  const from = path.join(root, 'tasks', task);
  const to = path.join(root, 'build', 'tasks', task);
  fs.mkdirSync(to, { recursive: true });
  for (const file of ['task.json', 'icon.png']) {
    if (fs.existsSync(path.join(from, file))) fs.copyFileSync(path.join(from, file), path.join(to, file));
  }
}
