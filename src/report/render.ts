// One report, four formats.
import { renderCsv } from './csv.ts';
import type { Report } from './data.ts';
import { renderHtml } from './html.ts';
import type { ReportFormat } from './options.ts';
import { renderTable, type TableOptions } from './table.ts';

/** `table.width`: the table format's width (the others have none). */
export function renderReport(report: Report, format: ReportFormat, table: Pick<TableOptions, 'width'> = {}): string {
  switch (format) {
    case 'table':
      return renderTable(report, table);
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderCsv(report);
    case 'html':
      return renderHtml(report);
  }
}
