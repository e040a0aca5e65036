// One report, four formats.
import { renderCsv } from './csv.ts';
import type { Report } from './data.ts';
import { renderHtml } from './html.ts';
import type { ReportFormat } from './options.ts';
import { renderTable } from './table.ts';

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'table':
      return renderTable(report);
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderCsv(report);
    case 'html':
      return renderHtml(report);
  }
}
