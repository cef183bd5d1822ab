"""The project's own Great Expectations expectations, registered with GX on import.

:class:`UnexpectedRowsCountExpectation` is GX's ``unexpected_rows_expectation`` (a batch fails
when its custom query selects any row) without its second scan: GX's own expectation runs the
query twice whatever the result format, once to count and once to fetch up to 200 rows that
only its ``COMPLETE`` format shows.  This one fetches rows only for ``COMPLETE``; validation
asks for ``BASIC`` and finds the failing rows of every failing expectation in one SQL pass of
its own (``runner._failing_rows``).

A custom query that only selects the batch's rows where a condition holds can say so in
``unexpected_rows_condition`` (the condition alone).  Such an expectation is counted as an
aggregate of the batch (:class:`UnexpectedRowsConditionCount`), which GX computes in the one
query it runs for all the aggregates of a batch, the column expectations' counts among them,
instead of in a scan of the batch of its own: the same count, as the query selects exactly the
rows where the condition holds.

:class:`ExpectColumnValuesToBeIsoDates` and :class:`ExpectColumnValuesToBeIsoTimestamps` are
column map expectations like GX's ``expect_column_values_to_match_regex`` with the date or
timestamp pattern (``credit.validation.sql``), tested by ``audit.is_iso_date`` /
``audit.is_iso_timestamp``, which accept exactly the texts the patterns match at a fraction of
their cost: a regular expression costs PostgreSQL about 0.1 us a character.  GX counts them,
as every column map expectation, in its one aggregate query of the batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.metric_function_types import MetricPartialFunctionTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import ExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_partial
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.expectations.registry import get_metric_kwargs
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.validator.metric_configuration import MetricConfiguration
from great_expectations.validator.validator import ValidationDependencies

_COUNT = "unexpected_rows_query.row_count"
_ROWS = "unexpected_rows_query.table"
_CONDITION_COUNT = "unexpected_rows_condition.row_count"


class UnexpectedRowsConditionCount(TableMetricProvider):
    """How many rows of the batch a condition holds for, as an aggregate GX bundles with the
    batch's other aggregates into one query (``count(*) filter (where condition)``)."""

    metric_name = _CONDITION_COUNT
    value_keys = ("unexpected_rows_condition",)

    @metric_partial(
        engine=SqlAlchemyExecutionEngine,
        partial_fn_type=MetricPartialFunctionTypes.AGGREGATE_FN,
        domain_type=MetricDomainTypes.TABLE,
    )
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> tuple[Any, dict, dict]:
        condition = sa.text(f"({metric_value_kwargs['unexpected_rows_condition']})")
        return sa.func.count().filter(condition), metric_domain_kwargs, {}


class UnexpectedRowsCountExpectation(UnexpectedRowsExpectation):
    """Expect the custom query to select no row of the batch; observed value: how many it
    selects.  The rows themselves (up to 200, in ``details``) only with the ``COMPLETE`` result
    format, as GX's own expectation gives them.  With ``unexpected_rows_condition`` (the
    query's condition on each row alone) the count is an aggregate of the batch.  GX type
    ``unexpected_rows_count_expectation``.
    """

    unexpected_rows_condition: str | None = None

    metric_dependencies: ClassVar[tuple[str, ...]] = (_COUNT,)
    success_keys: ClassVar[tuple[str, ...]] = (
        "unexpected_rows_query",
        "unexpected_rows_condition",
    )

    def get_validation_dependencies(
        self,
        execution_engine: ExecutionEngine | None = None,
        runtime_configuration: dict | None = None,
    ) -> ValidationDependencies:
        dependencies = super().get_validation_dependencies(
            execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        needed = []
        if self.unexpected_rows_condition:
            dependencies.remove_metric_configuration(_COUNT)
            needed.append(_CONDITION_COUNT)
        if self._result_format(runtime_configuration) == ResultFormat.COMPLETE:
            needed.append(_ROWS)
        for name in needed:
            kwargs = get_metric_kwargs(
                metric_name=name,
                configuration=self.configuration,
                runtime_configuration=runtime_configuration,
            )
            dependencies.set_metric_configuration(
                metric_name=name,
                metric_configuration=MetricConfiguration(
                    metric_name=name,
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
        count = metrics[_CONDITION_COUNT] if self.unexpected_rows_condition else metrics[_COUNT]
        if _ROWS in metrics:  # COMPLETE: GX's own result, the rows included
            return super()._validate(
                {**metrics, _COUNT: count}, runtime_configuration, execution_engine
            )
        if self._result_format(runtime_configuration) == ResultFormat.BOOLEAN_ONLY:
            return {"success": count == 0}
        return {"success": count == 0, "result": {"observed_value": count}}

    def _result_format(self, runtime_configuration: dict | None) -> str:
        chosen = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(chosen, dict):
            return str(chosen.get("result_format", ResultFormat.SUMMARY))
        return str(chosen)


class ColumnValuesIsoDate(ColumnMapMetricProvider):
    """A value is an ISO date (``sql.DATE_PATTERN``), by ``audit.is_iso_date``."""

    condition_metric_name = "column_values.iso_date"

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, **kwargs: Any) -> Any:
        return sa.func.audit.is_iso_date(column, type_=sa.Boolean)


class ColumnValuesIsoTimestamp(ColumnMapMetricProvider):
    """A value is an ISO timestamp (``sql.TIMESTAMP_PATTERN``), by ``audit.is_iso_timestamp``."""

    condition_metric_name = "column_values.iso_timestamp"

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, **kwargs: Any) -> Any:
        return sa.func.audit.is_iso_timestamp(column, type_=sa.Boolean)


def _rendered(
    configuration: ExpectationConfiguration | None,
    runtime_configuration: dict | None,
    values_must_be: str,
) -> list[RenderedStringTemplateContent]:
    """What Data Docs say an ISO text expectation asks, as GX words its own."""
    runtime_configuration = runtime_configuration or {}
    column = runtime_configuration.get("include_column_name") is not False
    return [
        RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={
                "template": ("$column " if column else "") + f"values must be {values_must_be}.",
                "params": {"column": configuration.kwargs.get("column") if configuration else None},
                "styling": runtime_configuration.get("styling"),
            },
        )
    ]


class ExpectColumnValuesToBeIsoDates(ColumnMapExpectation):
    """Expect the column's values (NULL aside) to be ISO dates ``YYYY-MM-DD``: a real calendar
    day of the years 1000-2999.  GX type ``expect_column_values_to_be_iso_dates``."""

    map_metric = "column_values.iso_date"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: ExpectationConfiguration | None = None,
        result: ExpectationValidationResult | None = None,
        runtime_configuration: dict | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        return _rendered(
            configuration,
            runtime_configuration,
            "ISO dates YYYY-MM-DD, a real calendar day of the years 1000-2999",
        )


class ExpectColumnValuesToBeIsoTimestamps(ColumnMapExpectation):
    """Expect the column's values (NULL aside) to be ISO timestamps: a date as
    :class:`ExpectColumnValuesToBeIsoDates`, ``T`` or a space, ``HH:MM[:SS[.ffffff]]``, an
    optional ``Z`` or ``+-HH[[:]MM]``.  GX type ``expect_column_values_to_be_iso_timestamps``."""

    map_metric = "column_values.iso_timestamp"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: ExpectationConfiguration | None = None,
        result: ExpectationValidationResult | None = None,
        runtime_configuration: dict | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        return _rendered(
            configuration,
            runtime_configuration,
            "ISO timestamps: such a date, T or a space, HH:MM[:SS[.ffffff]],"
            " then Z, +HH, +HHMM or +HH:MM (or -) if a zone is given",
        )


EXPECTATION_TYPE = "unexpected_rows_count_expectation"
ISO_DATE_TYPE = "expect_column_values_to_be_iso_dates"
ISO_TIMESTAMP_TYPE = "expect_column_values_to_be_iso_timestamps"
