"""A Python step feeding a whole notebook run by papermill, and a Python step using its output."""
from wfnb import Param, Workflow

wf = Workflow(
    "mixed_report",
    title="Mixed report",
    description="Count rows in Python, report in a notebook (papermill), publish in Python.",
    tags=["example", "notebook"],
    params=[Param("region", type="choice", choices=["EU", "US"], default="EU",
                  description="Region to report on")],
)


@wf.step()
def rows(ctx, region):
    """How many rows the extract found."""
    return 120 if region == "EU" else 80


# the notebook's parameters cell declares `rows`, `region` and `factor`: it receives the
# upstream result `rows` and the run's `region` by name; parameters= sets `factor`
wf.notebook("report", "../notebooks/report.ipynb", after=["rows"], timeout=120,
            parameters={"factor": 2.0})


@wf.step(after=["report"])
def publish(report):
    return f"{report['region']} total {report['total']}"
