"""`bijli access …`: staff accounts and the integrations' bearer tokens.

Passwords are read from a prompt (or standard input), never from the command line; a token
is printed once, when it is made, and only its hash is kept.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bijli import settings as settings_mod
from bijli.access import handlers as access
from bijli.access.model import STAFF_ROLES, Role
from bijli.access.ports import StaffMember
from bijli.access.secrets import WeakPassword, totp_uri
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened
from bijli.kernel.time import IST

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Staff accounts and API tokens.")
token_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Bearer tokens for other systems.")
staff_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Staff who log in at /login.")
app.add_typer(token_app, name="token")
app.add_typer(staff_app, name="staff")

ROLES = ", ".join(r.value for r in STAFF_ROLES)
RoleOption = Annotated[str, typer.Option("--role", help=f"One of: {ROLES}.")]
AreaOption = Annotated[
    list[str] | None,
    typer.Option("--area", help='An area they work (repeat for several): its cases alert them, e.g. "Civil Lines".'),
]
MobileOption = Annotated[
    str | None, typer.Option("--mobile", help='Their mobile number, for cases\' alerts by SMS ("" removes it).')
]
EmailOption = Annotated[
    str | None, typer.Option("--email", help='Their e-mail address, for cases\' alerts by e-mail ("" removes it).')
]
LanguageOption = Annotated[str | None, typer.Option("--language", help="hi or en: the language of their alerts.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input's first line (scripts).")
]


def _ist(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(IST).strftime("%d %b %Y %H:%M")


def _role(text: str) -> Role:
    try:
        return access.staff_role(text)
    except access.AccessError as e:
        raise typer.BadParameter(str(e), param_hint="--role") from None


def _settings(data_dir: Path, database_url: str | None) -> settings_mod.Settings:
    return settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")


def _password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)
    return str(password)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(1)


@token_app.command("create")
def token_create(
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. billing-system.")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Make a bearer token; it is printed once, on standard output (only its hash is kept)."""
    chosen = _role(role)
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            token = access.create_token(platform.store, name, chosen, "cli", datetime.now(UTC))
        except access.AccessError as e:
            raise _fail(str(e)) from None
    console.print(f"token [bold]{escape(name)}[/bold] ({chosen.value}); shown this once, keep it secret:")
    print(token)


@token_app.command("list")
def token_list(data_dir: DataDir = Path(".bijli-demo"), database_url: DatabaseUrl = None) -> None:
    """Every token, revoked ones too (never the tokens themselves)."""
    with opened(_settings(data_dir, database_url)) as platform:
        found = access.tokens(platform.store)
    table = Table("name", "role", "created (IST)", "revoked (IST)")
    for t in found:
        table.add_row(t.name, t.role.value, _ist(t.created_at), _ist(t.revoked_at))
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token: requests carrying it get 401 from now on."""
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            access.revoke_token(platform.store, name, datetime.now(UTC))
        except access.AccessError as e:
            raise _fail(str(e)) from None
    console.print(f"token {escape(name)} revoked")


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="Lower-case user name, e.g. sharma.")],
    role: RoleOption,
    area: AreaOption = None,
    mobile: MobileOption = None,
    email: EmailOption = None,
    language: LanguageOption = None,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Add a staff member; the password is asked for (at least 12 characters). Field staff get
    their areas, mobile number (and e-mail): the cases opened there alert them."""
    chosen = _role(role)
    details = access.StaffDetails(areas=area, mobile=mobile, email=email, language=language or "en")
    password = _password(password_stdin, username)
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            member = access.add_staff(platform.store, username, chosen, password, datetime.now(UTC), details)
        except (access.AccessError, WeakPassword) as e:
            raise _fail(str(e)) from None
    console.print(f"staff member {escape(username)} added as {chosen.value}{escape(_reach(member))}")


@staff_app.command("set")
def staff_set(
    username: Annotated[str, typer.Argument(help="The staff member's user name.")],
    role: Annotated[str | None, typer.Option("--role", help=f"A new role, one of: {ROLES}.")] = None,
    area: AreaOption = None,
    no_areas: Annotated[bool, typer.Option("--no-areas", help="They work no area any more.")] = False,
    mobile: MobileOption = None,
    email: EmailOption = None,
    language: LanguageOption = None,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Change a staff member's role, areas (`--area` replaces them all), mobile, e-mail or language."""
    if area and no_areas:
        raise typer.BadParameter("--area or --no-areas, not both", param_hint="--no-areas")
    details = access.StaffDetails(
        role=None if role is None else _role(role),
        areas=[] if no_areas else area,
        mobile=mobile,
        email=email,
        language=language,
    )
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            member = access.set_staff(platform.store, username, details)
        except access.AccessError as e:
            raise _fail(str(e)) from None
    console.print(f"staff member {escape(username)} is {member.role.value}{escape(_reach(member))}")


def _reach(member: StaffMember) -> str:
    """`` in Civil Lines, +919812345678, en`` (what tells whether cases will reach them)."""
    where = f" in {', '.join(member.areas)}" if member.areas else ", in no area"
    contact = ", ".join(x for x in (member.mobile, member.email) if x) or "no mobile or e-mail"
    return f"{where}, {contact}, {member.language}"


@staff_app.command("password")
def staff_password(
    username: Annotated[str, typer.Argument(help="The staff member's user name.")],
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Set a new password for a staff member."""
    password = _password(password_stdin, username)
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            access.change_password(platform.store, username, password)
        except (access.AccessError, WeakPassword) as e:
            raise _fail(str(e)) from None
    console.print(f"password of {escape(username)} changed")


@staff_app.command("totp")
def staff_totp(
    username: Annotated[str, typer.Argument(help="The staff member's user name.")],
    off: Annotated[bool, typer.Option("--off", help="Turn the second factor off instead.")] = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Set up a TOTP second factor (an authenticator app): prints its otpauth:// address once."""
    with opened(_settings(data_dir, database_url)) as platform:
        try:
            secret = access.set_up_totp(platform.store, username, enable=not off)
        except access.AccessError as e:
            raise _fail(str(e)) from None
    if secret is None:
        console.print(f"second factor of {escape(username)} turned off")
        return
    console.print(f"{escape(username)} now logs in with a code from an authenticator app. Add this to the app:")
    print(totp_uri(secret, username))


@staff_app.command("list")
def staff_list(data_dir: DataDir = Path(".bijli-demo"), database_url: DatabaseUrl = None) -> None:
    """Staff members: roles, areas, mobile, e-mail, language, whether they use a second factor."""
    with opened(_settings(data_dir, database_url)) as platform:
        found = access.staff_members(platform.store)
    table = Table("user name", "role", "areas", "mobile", "e-mail", "language", "second factor", "added (IST)")
    for m in found:
        table.add_row(
            m.username,
            m.role.value,
            escape(", ".join(m.areas)) or "—",
            m.mobile or "—",
            escape(m.email or "—"),
            m.language,
            "TOTP" if m.totp_secret else "—",
            _ist(m.created_at),
        )
    console.print(table)
