"""A workflow with an approval step: a lead signs off before the payout runs."""
from wfnb import Param, Workflow

wf = Workflow(
    "expense_approval",
    title="Expense approval",
    description="Check an expense claim, let a lead approve it, then pay it out.",
    tags=["example", "approval"],
    params=[
        Param("employee", type="str", required=True, description="Who claims"),
        Param("amount", type="float", required=True, min=0.01, max=100_000,
              description="Amount in EUR"),
    ],
)


@wf.step()
def check(ctx, employee, amount):
    ctx.logger.info("checking %.2f EUR for %s", amount, employee)
    return {"employee": employee, "amount": amount, "policy_ok": amount <= 5_000}


wf.approval(
    "sign_off",
    after=["check"],
    approvers=["lead", "admin"],
    timeout="2d",
    on_timeout="reject",
    description="Check the claim against the receipts; give a cost centre.",
    inputs=[Param("cost_centre", type="choice", choices=["OPS", "R&D", "SALES"],
                  required=True, description="Where to book it")],
)


@wf.step(after=["sign_off"])
def payout(check, sign_off):
    return {"paid": check["amount"], "to": check["employee"],
            "cost_centre": sign_off["cost_centre"], "approved_by": sign_off["approved_by"]}
