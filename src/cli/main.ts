#!/usr/bin/env node
/**
 * The `shears` command:
 *   shears start                       the demo (npm start): gradual pruning to 90% while training on MNIST
 *   shears train [options]             train and prune an MLP (MNIST, Fashion-MNIST, IDX files)
 *   shears speed                       a short SpMM-vs-dense speed table on this machine
 *   shears bench <kernel> <files…>     spmm/spmv/spmmt/sddmm on your matrix files, or advise a format
 *   shears info                        info() as JSON
 *   shears inspect <file> [--json]     tensors, dtypes, shapes, sparsity, bytes of a safetensors file
 *   shears prune <in> -o <out> ...     torch.nn.utils.prune's masks on a safetensors state dict
 */
import { Command, Option } from 'commander';

import { info } from '../index.js';
import { inspectRows, printTable } from './inspect.js';
import { runPrune, type PruneCliOptions } from './prune.js';
import { printInfo, speedTable } from './start.js';
import { runTrain, type TrainCliOptions } from './train.js';
import { runBench, type BenchCliOptions } from './bench.js';

const program = new Command('shears').description('Pruning and sparse training for Node.js').version(info().version).showHelpAfterError();

program
  .command('bench <kernel> <paths...>')
  .description('time spmm | spmv | spmmt | sddmm on your matrix files (.mtx, .mtx.gz, .smtx, .npz; folders searched), or advise a format')
  .option('--n <list>', 'dense columns (spmm, spmmt, sddmm)', '64,256,1024')
  .option('--formats <list>', 'csr, dense, bsr:RxC (default csr,bsr:4x4,bsr:16x16,dense; for advise, the candidates: default csr, dense and bsr 2x2 to 16x16)')
  .option('--threads <n>', 'threads (default: all cores)')
  .option('--isa <isa>', 'force a SIMD variant: scalar, avx2, avx512, neon')
  .option('--device <device>', 'cpu, or cuda (CSR SpMM/SpMV/SDDMM, kernel-only times; needs the CUDA build and a GPU)', 'cpu')
  .option('--precision <p>', 'BSR on cuda: fp32, tf32 or bf16 tensor cores (the dense GEMM then uses TF32)', 'fp32')
  .option('--repeat <n>', 'timed runs per case (at least; runs continue until 50 ms)', '10')
  .option('--warmup <n>', 'untimed runs first', '2')
  .option('--peer <peer>', 'also time torch.mm and PyTorch CSR in the same run (torch)')
  .option('--json', 'print every row, the summary and failures as JSON')
  .option('--csv', 'print the rows as CSV')
  .action(async (kernel: string, paths: string[], o: BenchCliOptions) => {
    process.exitCode = await runBench(kernel as Parameters<typeof runBench>[0], paths, o);
  });

const trainDefaults = {
  data: 'mnist',
  arch: '784-300-100-10',
  epochs: '10',
  batchSize: '64',
  lr: '0.05',
  momentum: '0.9',
  weightDecay: '0',
  sparsity: '0.9',
  schedule: 'gradual',
  criterion: 'magnitude',
  scope: 'global',
  seed: '0',
} as const;

program
  .command('start')
  .description('the demo: what this machine runs, then a LeNet-300-100 trained on the embedded MNIST while gradually pruned to 90%')
  .action(async () => {
    printInfo();
    console.log('');
    await runTrain({ ...trainDefaults });
  });

program.command('speed').description('a short SpMM-vs-dense speed table on this machine').action(() => {
  printInfo();
  speedTable();
});

program
  .command('train')
  .description('train an MLP natively, pruning it on a schedule; prints progress and a per-layer table')
  .option('--data <data>', 'mnist (embedded), fashion-mnist (Debian package) or a folder of IDX files', trainDefaults.data)
  .option('--arch <sizes>', 'layer sizes, inputs first', trainDefaults.arch)
  .option('--epochs <n>', 'epochs', trainDefaults.epochs)
  .option('--batch-size <n>', 'mini-batch size', trainDefaults.batchSize)
  .option('--lr <lr>', 'learning rate', trainDefaults.lr)
  .option('--momentum <m>', 'SGD momentum', trainDefaults.momentum)
  .option('--weight-decay <wd>', 'L2 weight decay', trainDefaults.weightDecay)
  .option('--sparsity <s>', 'target sparsity (0 = dense training)', trainDefaults.sparsity)
  .addOption(new Option('--schedule <s>', 'pruning schedule').choices(['gradual', 'one-shot', 'iterative', 'lottery', 'adaptive', 'rigl', 'set', 'none']).default(trainDefaults.schedule))
  .addOption(new Option('--criterion <c>', 'what ranks the weights').choices(['magnitude', 'gradient', 'taylor', 'fisher', 'movement']).default(trainDefaults.criterion))
  .addOption(new Option('--scope <scope>', 'one threshold over all layers, or per layer').choices(['global', 'layer']).default(trainDefaults.scope))
  .option('--seed <n>', 'seed (initialisation, shuffling)', trainDefaults.seed)
  .addOption(new Option('--sparse-execution <how>', 'dense or CSR per layer: by density, or measured (auto)').choices(['density', 'auto']).default('density'))
  .addOption(new Option('--device <where>', 'where the epochs run (cuda: the CUDA build and a GPU; auto: the GPU when usable)').choices(['cpu', 'cuda', 'auto']).default('cpu'))
  .option('--out <file>', 'write the trained model (safetensors, PyTorch pruned form)')
  .option('--json', 'print { accuracy, loss, sparsity, epochSeconds, layers } as JSON')
  .action(async (o: TrainCliOptions) => {
    const result = await runTrain(o);
    if (o.json) console.log(JSON.stringify(result, null, 2));
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
  .option('--amount <amount>', 'a fraction (0.9) or a count (1000) of the weights still kept, per layer, or over all with --scope global (not with N:M)')
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

program.parseAsync(process.argv.length > 2 ? process.argv : [...process.argv, 'start']).catch((err: Error) => {
  console.error(`shears: ${err.message}`);
  process.exit(2);
});
