"""KPI reports: figures from the case history, as text, JSON, CSV, a chart and a workbook.

- `period`: the dates a report covers;
- `timeline`: one case's events turned into the instants the figures measure;
- `kpi`: the figures of a period, per team, per worker and per week (pure);
- `text`, `formats`, `chart`, `workbook`: the renderings (matplotlib and openpyxl
  are imported only when a chart or a workbook is drawn);
- `service`: reading the database and building a report, for `/report` and the CLI;
- `weekly`: the Monday report to every team chat (`weekly_report_pass`).
"""
