"""Plain functions (no workflow here): the steps of ``weekly_report.wfnb.toml`` call them by
import path, ``regional_sales:extract``. Files next to a declared workflow are importable."""


def extract(region: str, weeks: int = 4) -> list[dict]:
    """Weekly sales rows of one region."""
    base = {"EU": 1200, "US": 900}.get(region, 500)
    return [{"region": region, "week": w + 1, "sales": base + 37 * w} for w in range(weeks)]


def summarize(extract: list[dict]) -> dict:
    """Total and best week of the extracted rows."""
    best = max(extract, key=lambda row: row["sales"])
    return {"total": sum(row["sales"] for row in extract), "best_week": best["week"]}
