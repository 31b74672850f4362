"""A slow workflow for cancel demos: each step sleeps, waking early when cancelled."""
from wfnb import Param, Workflow

wf = Workflow(
    "slow_etl",
    title="Slow ETL",
    description="Three slow steps in a row; use it to watch progress and to try Cancel.",
    tags=["example", "slow"],
    params=[Param("seconds", type="float", default=5.0, min=0, max=3600,
                  description="How long each step takes")],
)


@wf.step()
def stage(ctx, seconds):
    ctx.sleep(seconds)
    return "staged"


@wf.step(after=["stage"])
def transform(ctx, seconds):
    ctx.sleep(seconds)
    return "transformed"


@wf.step(after=["transform"])
def publish(ctx, seconds):
    ctx.sleep(seconds)
    return "published"
