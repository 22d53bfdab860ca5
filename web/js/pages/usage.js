// Usage: what your agents spent over a period, per day, per key and per tool.
import { pageHeader } from '../ui.js';
import { usageReport } from '../usage_report.js';

export function usagePage(section) {
  section.append(
    pageHeader('Usage', 'What your agents spent on paid tools, per day, per key and per tool. Days are UTC.'),
    usageReport({ role: 'spent', idPrefix: 'usage' }));
}
