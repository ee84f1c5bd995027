// weft check [--format text|json]: what weftd finds inconsistent between its store, its IPAM and
// the kernel. Exit 0 only when clean; 1 when there are findings (each printed on its own line).

import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatJson } from '../format.js';

interface CheckReportView {
  clean: boolean;
  findings: { kind: string; message: string }[];
  checked: { networks: number; endpoints: number; pools: number; links: number };
}

export function registerCheck(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('Compare the store, the IPAM and the kernel; exit 0 only when they agree')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: { format: 'text' | 'json' }, cmd: Command) => {
      const report = await ctx.api(cmd).client.request<CheckReportView>('GET', '/v1/check');
      if (flags.format === 'json') ctx.out(formatJson(report));
      else {
        const c = report.checked;
        const lines = report.findings.map((f) => `${f.kind}: ${f.message}`);
        lines.push(`${report.clean ? 'clean' : `${report.findings.length} finding(s)`}: ${c.networks} networks, ${c.endpoints} endpoints, ${c.pools} pools, ${c.links} links checked`);
        ctx.out(`${lines.join('\n')}\n`);
      }
      if (!report.clean && ctx.exitCode === 0) ctx.exitCode = 1;
    });
}
