"""Jiangyin industry + credit (行业+信用) data platform."""

import logging

# Great Expectations logs its own import at INFO (hundreds of "Skipping registering function"
# lines at the top of every Airflow task's log); only its warnings are worth reading.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
