// weft check [--repair] [--format text|json]: what weftd finds inconsistent between its store, its
// IPAM, the kernel, the cluster and Docker. Exit 0 only when clean; 1 when there are findings
// (each printed on its own line). With --repair, weftd fixes what it can fix safely, prints one
// line per finding with what it did (or why it left it alone), checks again, and the exit status
// is that of the second check.

import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatJson } from '../format.js';

interface FindingView {
  kind: string;
  object?: string;
  message: string;
}

interface CheckReportView {
  clean: boolean;
  findings: FindingView[];
  checked: { networks: number; endpoints: number; pools: number; links: number };
}

interface RepairReportView {
  before: CheckReportView;
  repairs: { kind: string; object: string; outcome: 'repaired' | 'skipped' | 'failed'; action: string }[];
  after: CheckReportView;
}

function summary(report: CheckReportView): string[] {
  const c = report.checked;
  const lines = report.findings.map((f) => `${f.kind}: ${f.message}`);
  lines.push(`${report.clean ? 'clean' : `${report.findings.length} finding(s)`}: ${c.networks} networks, ${c.endpoints} endpoints, ${c.pools} pools, ${c.links} links checked`);
  return lines;
}

export function registerCheck(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('Compare the store, the IPAM, the kernel (and Docker); exit 0 only when they agree')
    .option('--repair', 'fix what can be fixed safely, say what was done, then check again')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: { format: 'text' | 'json'; repair?: boolean }, cmd: Command) => {
      const client = ctx.api(cmd).client;
      let after: CheckReportView;
      if (flags.repair) {
        const r = await client.request<RepairReportView>('POST', '/v1/check?repair=1');
        after = r.after;
        if (flags.format === 'json') ctx.out(formatJson(r));
        else {
          const lines = r.repairs.map((a) => `${a.outcome} ${a.kind} ${a.object}: ${a.action}`);
          if (r.repairs.length === 0) lines.push('nothing to repair');
          lines.push('after repair:', ...summary(r.after));
          ctx.out(`${lines.join('\n')}\n`);
        }
      } else {
        after = await client.request<CheckReportView>('GET', '/v1/check');
        if (flags.format === 'json') ctx.out(formatJson(after));
        else ctx.out(`${summary(after).join('\n')}\n`);
      }
      if (!after.clean && ctx.exitCode === 0) ctx.exitCode = 1;
    });
}
