"""The project's own Great Expectations expectation, registered with GX on import.

:class:`UnexpectedRowsCountExpectation` is GX's ``unexpected_rows_expectation`` (a batch fails
when its custom query selects any row) without its second scan: GX's own expectation runs the
query twice whatever the result format, once to count and once to fetch up to 200 rows that
only its ``COMPLETE`` format shows.  This one fetches rows only for ``COMPLETE``; validation
asks for ``BASIC`` and finds the failing rows of every failing expectation in one SQL pass of
its own (``runner._failing_rows``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import ExecutionEngine
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.registry import get_metric_kwargs
from great_expectations.validator.metric_configuration import MetricConfiguration
from great_expectations.validator.validator import ValidationDependencies

_COUNT = "unexpected_rows_query.row_count"
_ROWS = "unexpected_rows_query.table"


class UnexpectedRowsCountExpectation(UnexpectedRowsExpectation):
    """Expect the custom query to select no row of the batch; observed value: how many it
    selects.  The rows themselves (up to 200, in ``details``) only with the ``COMPLETE`` result
    format, as GX's own expectation gives them.  GX type ``unexpected_rows_count_expectation``.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = (_COUNT,)

    def get_validation_dependencies(
        self,
        execution_engine: ExecutionEngine | None = None,
        runtime_configuration: dict | None = None,
    ) -> ValidationDependencies:
        dependencies = super().get_validation_dependencies(
            execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        if self._result_format(runtime_configuration) == ResultFormat.COMPLETE:
            kwargs = get_metric_kwargs(
                metric_name=_ROWS,
                configuration=self.configuration,
                runtime_configuration=runtime_configuration,
            )
            dependencies.set_metric_configuration(
                metric_name=_ROWS,
                metric_configuration=MetricConfiguration(
                    metric_name=_ROWS,
                    metric_domain_kwargs=kwargs["metric_domain_kwargs"],
                    metric_value_kwargs=kwargs["metric_value_kwargs"],
                ),
            )
        return dependencies

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> ExpectationValidationResult | dict[str, Any]:
        if _ROWS in metrics:  # COMPLETE: GX's own result, the rows included
            return super()._validate(metrics, runtime_configuration, execution_engine)
        count = metrics[_COUNT]
        if self._result_format(runtime_configuration) == ResultFormat.BOOLEAN_ONLY:
            return {"success": count == 0}
        return {"success": count == 0, "result": {"observed_value": count}}

    def _result_format(self, runtime_configuration: dict | None) -> str:
        chosen = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(chosen, dict):
            return str(chosen.get("result_format", ResultFormat.SUMMARY))
        return str(chosen)


EXPECTATION_TYPE = "unexpected_rows_count_expectation"
