"""``/stats``: the statistics page and a CSV file of each statistic, for supervisors and
administrators. Every reading is audited, with its filters, before a figure is counted."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from audit import Outcome
from audit.export import safe_cell
from webapp import auditing, policy
from webapp.stats import bp, charts, queries
from webapp.stats.charts import month_name
from webapp.stats.figures import MIN_CELL, Figures, Statistic, csv_value, shown
from webapp.stats.forms import StatsFilterForm


def _form() -> StatsFilterForm:
    form = StatsFilterForm(request.args)
    form.set_registers([(id_, name) for id_, _code, name in queries.registers(None)])
    return form


def _refused(form: StatsFilterForm):
    """Filters that do not make sense: the form again, saying why, and no figures."""
    return render_template("stats/index.html", form=form, statistics=[], min_cell=MIN_CELL), 400


def _scope(form: StatsFilterForm) -> str:
    period = form.period
    months = f"{month_name(period.first)} – {month_name(period.last)}"
    chosen = next((c.label for c in form.register.choices if c.value == form.register.data), None)
    registers = chosen if form.register_id else _("all registers")
    return _("%(months)s, %(registers)s.", months=months, registers=registers)


@bp.get("/")
@login_required
def index():
    policy.require_role(current_user, policy.REVIEWERS, "stats.view", "statistics")
    form = _form()
    if not form.validate():
        return _refused(form)
    filters = form.filters()
    scope = _scope(form)
    auditing.write(
        "stats.view", Outcome.ALLOWED, object_type="statistics", detail={"filters": filters}
    )
    statistics = Figures(form.period, form.register_id).all()
    drawn = {s.name: charts.line_chart(s) if s.lines else charts.bar_chart(s) for s in statistics}
    return render_template(
        "stats/index.html",
        form=form,
        statistics=statistics,
        drawn=drawn,
        filters=filters,
        scope=scope,
        min_cell=MIN_CELL,
        shown=shown,
        month_name=month_name,
    )


@bp.get("/<name>.csv")
@login_required
def export(name: str):
    """One statistic as CSV, with the same cells as the page: a suppressed one is empty and
    says so in the ``suppressed`` column."""
    policy.require_role(current_user, policy.REVIEWERS, "stats.export", "statistics")
    if name not in Figures.NAMES:
        abort(404)
    form = _form()
    if not form.validate():
        return _refused(form)
    filters = form.filters()
    auditing.write(
        "stats.export",
        Outcome.ALLOWED,
        object_type="statistics",
        object_id=name,
        detail={"statistic": name, "filters": filters},
    )
    statistic = Figures(form.period, form.register_id).statistic(name)
    response = Response(as_csv(statistic), mimetype="text/csv")
    period = f"{form.period.first:%Y-%m}-{form.period.last:%Y-%m}"
    response.headers["Content-Disposition"] = f'attachment; filename="tallenne-{name}-{period}.csv"'
    return response


def as_csv(statistic: Statistic) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    kind = statistic.kind
    if statistic.months:
        writer.writerow(["month", *statistic.key_columns, statistic.value_column, "suppressed"])
        for i, month in enumerate(statistic.months):
            for line in statistic.lines:
                cell = line.cells[i]
                if cell.value is None and not cell.suppressed:
                    continue  # no reviews that month: no figure, hidden or not
                keys = [f"{month:%Y-%m}", *line.keys]
                writer.writerow([*map(safe_cell, keys), csv_value(cell, kind), _flag(cell)])
    else:
        writer.writerow([*statistic.key_columns, statistic.value_column, "suppressed"])
        for row in statistic.rows:
            keys = map(safe_cell, row.keys)
            writer.writerow([*keys, csv_value(row.cell, kind), _flag(row.cell)])
    return buffer.getvalue()


def _flag(cell) -> str:
    return "true" if cell.suppressed else "false"
