"""Fan-out / fan-in: extract once, three regional transforms in parallel, one report."""
from wfnb import Param, Workflow

wf = Workflow(
    "daily_sales",
    title="Daily sales",
    description="Build the daily sales report: extract, per-region totals, one summary.",
    tags=["sales", "example"],
    params=[
        Param("date", type="date", required=True, description="Day to report on"),
        Param("region", type="choice", choices=["EU", "US", "APAC"], default="EU",
              description="Region that gets the detailed breakdown"),
        Param("rows", type="int", default=120, min=1, max=1_000_000,
              description="Rows to extract"),
    ],
)


@wf.step()
def extract(ctx, date, rows):
    """Pretend to read the day's orders."""
    ctx.logger.info("extracting %d rows for %s", rows, date)
    return {"date": date.isoformat(), "rows": rows}


@wf.step(after=["extract"])
def eu(extract):
    return round(extract["rows"] * 0.5)


@wf.step(after=["extract"])
def us(extract):
    return round(extract["rows"] * 0.3)


@wf.step(after=["extract"])
def apac(extract):
    return extract["rows"] - round(extract["rows"] * 0.5) - round(extract["rows"] * 0.3)


@wf.step(after=["eu", "us", "apac"], retries=2, timeout=60)
def report(ctx, extract, eu, us, apac, region):
    totals = {"EU": eu, "US": us, "APAC": apac}
    print(f"report for {extract['date']}: {totals} (focus {region})")
    return {"date": extract["date"], "totals": totals, "focus": totals[region]}
