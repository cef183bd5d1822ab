"""Registers the project's timetables with Airflow (custom timetables must come from a plugin)."""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from credit.exports.schedule import QuarterlyWorkingDayTimetable


class CreditTimetablesPlugin(AirflowPlugin):
    name = "credit_timetables"
    timetables: ClassVar[list] = [QuarterlyWorkingDayTimetable]
