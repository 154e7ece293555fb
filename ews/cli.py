"""The ``ews`` command: one entry point for analysts, operators and the demo.

Each command lives in the module of its users (``data``, ``model``, ``service``,
``accounts``, ``demo``); what they share is in ``ews.common``."""

from __future__ import annotations

import typer

from ews import accounts, data, demo, model, service

app = typer.Typer(help="Dropout early-warning service for Thai schools.", no_args_is_help=True)

for command in (
    data.synth,
    data.ingest,
    data.features,
    model.train,
    model.promote,
    model.drift,
    service.score,
    model.effects,
    data.missing,
    model.outcomes,
    data.export,
    service.status,
    service.serve,
    data.contract,
    demo.demo,
):
    app.command()(command)
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.audit_app, name="audit")

if __name__ == "__main__":
    app()
