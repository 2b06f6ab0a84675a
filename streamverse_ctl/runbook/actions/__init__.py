"""Built-in runbook actions. Each is ``fn(ctx: ActionContext, **with) -> dict`` (its outputs).

An action must be idempotent (running it again after it succeeded changes nothing) or carry a
``check(ctx, **with) -> dict | None`` attribute telling whether its effect is already in place;
the engine uses it when a step was in flight at an interruption. In a dry run (``ctx.dry_run``)
an action reports what it would do and writes nothing. Registered in runbook/registrations.py.
"""
