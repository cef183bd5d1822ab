"""Scheduled exports (定期报送): daily warnings, the daily publicity list and quarterly
statistics, as files and e-mails.

* :mod:`credit.exports.workbook` writes one report (its tables) as XLSX + UTF-8 CSV;
* :mod:`credit.exports.daily`, :mod:`credit.exports.publicity` and
  :mod:`credit.exports.quarterly` read the marts and lay the reports out, one folder per
  recipient under ``<data dir>/outbox/<kind>/<period>/``, with a ``manifest.json`` (row
  counts, sha256) written by :mod:`credit.exports.outbox`;
* :mod:`credit.exports.summary_report` drafts the quarter's summary report (季度总结报告) from
  the quarterly export's data, written as .docx by :mod:`credit.exports.document`;
* :mod:`credit.exports.delivery` e-mails each recipient its files (SMTP connection
  ``credit_smtp``); :mod:`credit.exports.audit` logs every export and delivery in ``audit``;
* :mod:`credit.exports.schedule` is the quarterly DAG's timetable (Nth working day after the
  quarter ends).
"""
