#!/usr/bin/env node
/**
 * The `shears` command:
 *   shears start                       what this machine runs + a short SpMM speed table (npm start)
 *   shears info                        info() as JSON
 *   shears inspect <file> [--json]     tensors, dtypes, shapes, sparsity, bytes of a safetensors file
 *   shears prune <in> -o <out> ...     torch.nn.utils.prune's masks on a safetensors state dict
 */
import { Command, Option } from 'commander';

import { info } from '../index.js';
import { inspectRows, printTable } from './inspect.js';
import { runPrune, type PruneCliOptions } from './prune.js';
import { printInfo, speedTable } from './start.js';

const program = new Command('shears').description('Pruning and sparse training for Node.js').showHelpAfterError();

program.command('start').description("print what this machine runs and a short SpMM-vs-dense speed table").action(() => {
  printInfo();
  speedTable();
});

program.command('info').description('print info() as JSON').action(() => console.log(JSON.stringify(info(), null, 2)));

program
  .command('inspect <file>')
  .description('list the tensors of a safetensors file: dtype, shape, parameters, kept, sparsity')
  .option('--json', 'print JSON')
  .action((file: string, o: { json?: boolean }) => {
    const { rows, fileBytes } = inspectRows(file);
    if (o.json) console.log(JSON.stringify({ file, bytes: fileBytes, tensors: rows }, null, 2));
    else printTable(rows, `${file} (${fileBytes} bytes)`);
  });

program
  .command('prune <input>')
  .description('prune the weights of a safetensors state dict (masks as torch.nn.utils.prune makes them)')
  .requiredOption('-o, --output <file>', 'where to write the pruned state dict')
  .requiredOption('--amount <amount>', 'a fraction (0.9) or a count (1000) per layer, or over all with --scope global')
  .addOption(new Option('--method <method>', 'importance').choices(['l1', 'l2', 'random', 'taylor']).default('l1'))
  .addOption(new Option('--scope <scope>', 'per layer or one threshold over all').choices(['layer', 'global']).default('layer'))
  .option('--granularity <g>', 'element | row | N:M (2:4) | block:RxC (block:4x4)', 'element')
  .option('--include <regex>', 'tensors to prune (default: names ending in weight)')
  .option('--exclude <regex>', 'tensors to leave alone')
  .addOption(new Option('--format <format>', 'output form').choices(['dense', 'pytorch', 'csr']).default('dense'))
  .option('--seed <n>', 'seed for random pruning')
  .option('--grads <file>', 'gradients (safetensors, same names) for --method taylor: |weight × gradient|')
  .option('--json', 'print the per-layer table as JSON')
  .action((input: string, o: PruneCliOptions & { json?: boolean }) => {
    const progress = process.stderr.isTTY && !o.json ? (line: string) => process.stderr.write(`${line}\n`) : () => {};
    const rows = runPrune(input, o, progress);
    if (o.json) console.log(JSON.stringify({ input, output: o.output, tensors: rows }, null, 2));
    else printTable(rows, `${input} -> ${o.output} (${o.format})`);
  });

try {
  program.parse(process.argv.length > 2 ? process.argv : [...process.argv, 'start']);
} catch (err) {
  console.error(`shears: ${(err as Error).message}`);
  process.exit(2);
}
