"""Commands of accounts and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core import clock
from ews.common import (
    actor,
    console,
    database,
    fail,
    load_settings,
    parse_date,
)

users_app = typer.Typer(
    help="Staff accounts: passwords for people, expiring tokens for integrations.",
    no_args_is_help=True,
)


@users_app.command("create")
def users_create(
    role: Annotated[
        str, typer.Option(help="advisor, committee, data_officer, area, analyst or admin.")
    ],
    name: Annotated[str, typer.Option(help="The person's name.")],
    staff_id: Annotated[
        str | None, typer.Option(help="Advisor's advisor_id in the enrolment data.")
    ] = None,
    school: Annotated[
        str | None,
        typer.Option(help="The school (advisors, committee members, data officers)."),
    ] = None,
    schools: Annotated[
        str | None, typer.Option(help="An area office's schools, comma-separated.")
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="An area office following every school of a province.")
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(help="Sign-in name for the pages; a temporary password is printed."),
    ] = None,
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the token lasts.")] = 365,
    chair: Annotated[
        bool,
        typer.Option(
            "--chair",
            help="A committee member who chairs the care committee (reads protection and "
            "health notes).",
        ),
    ] = False,
) -> None:
    """Create an account; its token is printed once, alone on the last line."""
    from serving.accounts import (
        AccountError,
        create_user,
        schools_of_province,
        set_password,
        temporary_password,
    )

    engine = database(load_settings())
    try:
        followed = [s.strip() for s in (schools or "").split(",") if s.strip()]
        user, token = create_user(
            engine,
            role,
            name,
            staff_id=staff_id,
            school_id=school,
            username=username and username.lower(),
            token_days=token_days,
            schools=followed,
            province=province,
            actor=actor(),
            chair=chair,
        )
        if username:
            temporary = temporary_password()
            set_password(engine, user.user_id, temporary, actor(), must_change=True)
    except AccountError as error:
        fail(str(error))
    console.print(f"Created {user.role} account {user.user_id} ({escape(user.name)}).")
    if province:
        named = escape(province.strip())
        console.print(
            f"It follows the schools of the province {named} (the schools file's province"
            " column) as each sends its files."
        )
        if not schools_of_province(engine, named):
            console.print(f"No school of the province {named} has sent its files yet.")
    if user.schools:
        console.print(f"It follows {len(user.schools)} schools: {', '.join(user.schools)}.")
    if username:
        console.print(
            f"Sign-in name {user.username}, temporary password (to change at first sign-in): "
            f"{temporary}"
        )
    console.print(f"The token lasts {token_days} days and is shown once:")
    print(token)


@users_app.command("list")
def users_list() -> None:
    """Every account: role, scope, whether it is active, when its token expires and was
    last used. No secret is shown. Tokens in use that expire within 30 days are named
    after the table, to renew (ews users rotate)."""
    from serving.accounts import RENEW_DAYS, list_users, tokens_to_renew

    settings = load_settings()
    table = Table(title="Accounts")
    columns = ("id", "role", "name", "username", "scope", "active", "token expires", "token used")
    for column in columns:
        table.add_column(column)
    for user in list_users(database(settings)):
        scope = ", ".join(user["schools"]) or " / ".join(
            str(v) for v in (user["school_id"], user["staff_id"]) if v
        )
        if user["province"]:
            scope = f"province {user['province']}" + (f": {scope}" if scope else "")
        table.add_row(
            str(user["user_id"]),
            user["role"],
            escape(user["name"]),
            escape(user["username"] or ""),
            scope or "all (no student data)" if user["role"] in ("analyst", "admin") else scope,
            "yes" if user["active"] else "no",
            str(clock.day_of(user["token_expires_at"])) if user["token_expires_at"] else "",
            str(user["token_used_on"] or ""),
        )
    console.print(table)
    to_renew = tokens_to_renew(database(settings))
    if to_renew:
        console.print(
            f"[bold]Tokens in use that expire within {RENEW_DAYS} days, or have[/bold] (also on "
            "/admin): give each integration a new token, and put it in the integration."
        )
    for user in to_renew:
        state = "expired" if user["expired"] else "expires"
        console.print(
            f"  account {user['user_id']} ({escape(user['name'])}): {state} on "
            f"{clock.day_of(user['token_expires_at'])}, last used {user['token_used_on']} "
            f"(ews users rotate {user['user_id']})"
        )


@users_app.command("revoke")
def users_revoke(user_id: Annotated[int, typer.Argument(help="The account's number.")]) -> None:
    """Deactivate an account: its token stops working and its sessions end at once."""
    from serving.accounts import AccountError, revoke

    try:
        revoke(database(load_settings()), user_id, actor())
    except AccountError as error:
        fail(str(error))
    console.print(f"Account {user_id} is revoked; its token and sessions no longer work.")


@users_app.command("rotate")
def users_rotate(
    user_id: Annotated[int, typer.Argument(help="The account's number.")],
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the token lasts.")] = 365,
) -> None:
    """Give an account a new token; the old one stops working. Printed once, last line."""
    from serving.accounts import AccountError, rotate_token

    try:
        token = rotate_token(database(load_settings()), user_id, actor(), token_days)
    except AccountError as error:
        fail(str(error))
    console.print(f"New token for account {user_id} (lasts {token_days} days), shown once:")
    print(token)


@users_app.command("reset-password")
def users_reset_password(
    user_id: Annotated[int, typer.Argument(help="The account's number.")],
) -> None:
    """Set a temporary password (to change at first sign-in); sessions end."""
    from serving.accounts import AccountError, set_password, temporary_password

    temporary = temporary_password()
    try:
        set_password(database(load_settings()), user_id, temporary, actor(), must_change=True)
    except AccountError as error:
        fail(str(error))
    console.print(f"Temporary password for account {user_id}, to change at first sign-in:")
    print(temporary)


audit_app = typer.Typer(help="The audit log of reads and writes of students' records.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: every row follows the one before, unchanged."""
    from schooldata.audit import verify

    result = verify(database(load_settings()))
    if result.broken_at is not None:
        console.print(
            f"[red]The audit log is broken at row {result.broken_at}: it {result.reason}. "
            f"Rows were changed, removed or forged there.[/red]"
        )
        raise typer.Exit(1)
    console.print(f"The audit log is intact: {result.rows:,} rows, each following the last.")


@audit_app.command("show")
def audit_show(
    school: Annotated[str | None, typer.Option(help="Rows naming this school's students.")] = None,
    student: Annotated[
        str | None,
        typer.Option(help="Rows naming the student of this code (with --school: of that school)."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Rows of this account (its username).")] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Rows of this action: read, write, denied, export, download, ..."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="To this day included, YYYY-MM-DD.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="The newest rows shown (the file takes every row).")
    ] = 50,
    out: Annotated[
        Path | None, typer.Option(help="Also write every selected row to this CSV file.")
    ] = None,
) -> None:
    """Who read or changed which child's records, and when, newest first (Asia/Bangkok).

    For a parent's request to know who saw their child's records, or a check of one
    account. This read is itself written to the log."""
    from schooldata import audit
    from schooldata.spreadsheet import write_csv

    where = audit.Filter(
        school_id=school,
        student_id=student,
        username=user,
        action=action,
        since=parse_date(since).date() if since else None,
        until=parse_date(until).date() if until else None,
    )
    engine = database(load_settings())
    found = audit.entries(engine, where, limit=None if out else limit)
    audit.record(
        engine,
        [
            audit.Entry(
                "audit_read",
                "ews audit show",
                actor=actor(),
                student_id=student,
                school_id=school,
                detail=where.describe()[:200],
            )
        ],
    )
    if out is not None:
        write_csv(found, out)
        console.print(f"Wrote {len(found):,} rows to {out}")
    shown = found.head(limit)
    table = Table(title=f"Audit log: {where.describe()} ({len(shown):,} newest rows)")
    for column in ("when", "who", "action", "where", "school", "student", "detail"):
        table.add_column(column)
    blank = shown.astype(object).where(shown.notna(), "")  # None or NaN alike
    for row in blank.to_dict("records"):
        table.add_row(
            f"{row['at']:%Y-%m-%d %H:%M:%S}",
            escape(str(row["who"])),
            *(
                escape(str(row[column]))
                for column in ("action", "endpoint", "school_id", "student_id", "detail")
            ),
        )
    console.print(table)
