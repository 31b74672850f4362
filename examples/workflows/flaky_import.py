"""A workflow with a failing step: shows Failed, the traceback and skipped downstream steps."""
from wfnb import Param, Workflow

wf = Workflow(
    "flaky_import",
    title="Flaky import",
    description="Imports a file; fails when the file is 'missing.csv', skipping the load.",
    tags=["example", "failure"],
    params=[Param("file", type="str", default="missing.csv", description="File to import")],
)


@wf.step()
def fetch(ctx, file):
    if file == "missing.csv":
        raise FileNotFoundError(f"{file} is not in the landing folder")
    return {"file": file, "rows": 10}


@wf.step(after=["fetch"])
def load(fetch):
    return fetch["rows"]


@wf.step()
def notify(ctx):
    """Independent of the import: still runs when it fails."""
    return "sent"
