// Tests are TypeScript compiled by tsc (decorator metadata needs it), so ava runs the emitted JS.
module.exports = {
  files: ['dist/test/**/*.test.js'],
  timeout: '120s',
  concurrency: 2,
  workerThreads: false,
};
