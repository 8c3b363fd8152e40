"""Who is asking, and whether they may: one guard per route, declared where the route is.

Every route names its rule with `Depends(auth.rule(...))`; `secure(app)` refuses to start an
app with a route that names none. Anonymous requests to a guarded route get 401 (JSON) on the
API and a redirect to /login on pages; a role without the permission gets 403; a consumer
asking for a meter that is not theirs gets 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount

from bijli.access import handlers as access
from bijli.access.model import (
    ACTION_PERMISSION,
    CASE_STEP_PERMISSION,
    ROLE_PERMISSIONS,
    Identity,
    Kind,
    Permission,
    Role,
)
from bijli.access.secrets import csrf_for
from bijli.web.context import WebContext

SESSION_COOKIE = "bijli_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No identity, or one that is not valid (any more)."""


class AuthProblem(BaseModel):
    detail: str


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": AuthProblem, "description": "Not signed in: send a bearer token or a session cookie."},
    403: {"model": AuthProblem, "description": "Your role may not do this."},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """What a route asks of whoever calls it."""

    public: bool = False
    signed_in: bool = False
    """Anyone signed in, whatever their role."""
    permission: Permission | None = None
    own_meter: bool = False
    """A consumer may call it for their own meters (the path's `meter_id`)."""
    own_account: bool = False
    """A consumer may call it for their own accounts (the path's `account_id`)."""
    own_payment: bool = False
    """A consumer may call it for the payments of their own accounts (the path's `payment_id`)."""
    command: bool = False
    """A command: the permission depends on the action asked (`ACTION_PERMISSION`)."""
    case_step: bool = False
    """A step on a case: the permission depends on the step asked (`CASE_STEP_PERMISSION`)."""
    form: bool = False
    """A page's form: a browser cannot send the form token as a header, so the route checks
    the form's own `csrf` field (or the header) itself."""
    gateway: bool = False
    """Called by the payment gateway, not a signed-in user: the caller proves itself by the
    body's signature, which the route checks (401 without a valid one, whoever is signed in)."""

    def roles(self) -> list[Role]:
        """The roles this rule lets in (for a command: those that may ask for some action)."""
        if self.public or self.signed_in or self.gateway:
            return list(Role)
        needed: set[Permission | None]
        if self.command:
            needed = set(ACTION_PERMISSION.values())
        elif self.case_step:
            needed = set(CASE_STEP_PERMISSION.values())
        else:
            needed = {self.permission}
        return [
            r
            for r in Role
            if needed & ROLE_PERMISSIONS[r]
            or ((self.own_meter or self.own_account or self.own_payment) and Permission.READ_OWN in ROLE_PERMISSIONS[r])
        ]


class Guard:
    """A route's dependency: the identity behind the request, once the rule is met."""

    def __init__(self, ctx: WebContext, rule: Rule) -> None:
        self.ctx = ctx
        self.rule = rule

    def __call__(self, request: Request) -> Identity | None:
        who = identify(self.ctx, request)
        request.state.identity = who
        if self.rule.public or self.rule.gateway:
            return who
        if who is None:
            raise SignInRequired()
        if request.method not in SAFE_METHODS and request.state.session_key is not None and not self.rule.form:
            sent = request.headers.get(CSRF_HEADER, "")
            if sent != csrf_for(request.state.session_key):
                raise HTTPException(status_code=403, detail=f"a signed-in browser sends the form token ({CSRF_HEADER})")
        rule = self.rule
        if rule.own_meter:
            meter_id = str(request.path_params.get("meter_id", ""))
            # Without a permission of its own, an own-meter rule is for those who act as the
            # consumer (read_own): staff who only read the fleet may see the meter, not act on it.
            if who.may_see(meter_id) and (rule.permission is not None or who.can(Permission.READ_OWN)):
                return who
            if who.can(Permission.READ_OWN):  # not theirs: as if there were no such meter
                raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        if rule.own_account:
            account_no = str(request.path_params.get("account_id", ""))
            if who.can(rule.permission or Permission.READ_OWN):
                return who
            if who.can(Permission.READ_OWN):  # theirs, or as if there were no such account
                if who.kind is Kind.CONSUMER and self.ctx.platform.queries.account_mobile(account_no) == who.name:
                    return who
                raise HTTPException(status_code=404, detail=f"account {account_no} not found")
        if rule.own_payment:
            payment_id = str(request.path_params.get("payment_id", ""))
            if rule.permission is not None and who.can(rule.permission):
                return who
            if who.can(Permission.READ_OWN):  # theirs, or as if there were no such payment
                queries = self.ctx.platform.queries
                paid_for = queries.payment_account(payment_id)
                if who.kind is Kind.CONSUMER and paid_for and queries.account_mobile(paid_for) == who.name:
                    return who
                raise HTTPException(status_code=404, detail=f"payment {payment_id} not found")
        if rule.command and any(who.can(p) for p in ACTION_PERMISSION.values()):
            return who
        if rule.case_step and any(who.can(p) for p in CASE_STEP_PERMISSION.values()):
            return who
        if rule.signed_in or (rule.permission is not None and who.can(rule.permission)):
            return who
        raise HTTPException(status_code=403, detail=f"the {who.role.value} role may not do this")


class Auth:
    """Makes the guards of one app."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def public(self) -> Guard:
        return Guard(self.ctx, Rule(public=True))

    def signed_in(self) -> Guard:
        return Guard(self.ctx, Rule(signed_in=True))

    def needs(self, permission: Permission) -> Guard:
        return Guard(self.ctx, Rule(permission=permission))

    def meter(self) -> Guard:
        """Reading a meter: staff who read the fleet, or the meter's own consumer."""
        return Guard(self.ctx, Rule(permission=Permission.READ_FLEET, own_meter=True))

    def account(self) -> Guard:
        """Reading an account's statements and ledger: staff who read accounts, or its own consumer."""
        return Guard(self.ctx, Rule(permission=Permission.READ_ACCOUNTS, own_account=True))

    def command(self) -> Guard:
        return Guard(self.ctx, Rule(command=True))

    def case_step(self) -> Guard:
        """A step on a case: whoever may take some step (the route checks the one asked)."""
        return Guard(self.ctx, Rule(case_step=True))

    def payment(self) -> Guard:
        """Tracking a payment: staff who track payments, or the consumer whose account it paid."""
        return Guard(self.ctx, Rule(permission=Permission.TRACK_PAYMENTS, own_payment=True))

    def own_meter_form(self) -> Guard:
        """A form on a consumer's own meter (the admin too): the route checks the form token."""
        return Guard(self.ctx, Rule(own_meter=True, form=True))

    def command_form(self) -> Guard:
        """The control room's command console: a form (the route checks the form token), and
        the permission depends on the action asked, as on the API."""
        return Guard(self.ctx, Rule(command=True, form=True))

    def needs_form(self, permission: Permission) -> Guard:
        """A control-room form that needs `permission` (the route checks the form token)."""
        return Guard(self.ctx, Rule(permission=permission, form=True))

    def case_step_form(self) -> Guard:
        """The control room's form for a step on a case (the route checks the form token and
        the permission of the step asked, as on the API)."""
        return Guard(self.ctx, Rule(case_step=True, form=True))

    def gateway(self) -> Guard:
        """The payment gateway's webhook: authenticated by its signature, checked by the route."""
        return Guard(self.ctx, Rule(gateway=True))


def form_token_ok(request: Request, sent: str) -> bool:
    """Whether a signed-in browser sent its session's form token (in the form or the header);
    a bearer token needs none."""
    key = getattr(request.state, "session_key", None)
    if key is None:
        return True
    given = sent or request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(given.encode(), csrf_for(key).encode())


def identify(ctx: WebContext, request: Request) -> Identity | None:
    """The identity a request carries: a bearer token, else a session cookie; None if neither
    (or what it carries is unknown, revoked or ended)."""
    request.state.session_key = None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return access.identify_token(ctx.platform.store, token.strip())
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    who = access.identify_session(ctx.platform.store, key, ctx.clock.now())
    if who is not None:
        request.state.session_key = key
    return who


def identity_of(request: Request) -> Identity:
    """The identity the route's guard let in."""
    who: Identity | None = getattr(request.state, "identity", None)
    if who is None:
        raise SignInRequired()
    return who


def needs_action(who: Identity, action: str) -> None:
    """403 unless the identity may ask for this command action."""
    permission = ACTION_PERMISSION[action]
    if not who.can(permission):
        raise HTTPException(status_code=403, detail=f"the {who.role.value} role may not ask for {action}")


def needs_case_step(who: Identity, step: str) -> None:
    """403 unless the identity may take this step of a case's workflow."""
    permission = CASE_STEP_PERMISSION[step]
    if not who.can(permission):
        raise HTTPException(status_code=403, detail=f"the {who.role.value} role may not {step} a case")


def _guards(dependant: Dependant) -> Iterable[Guard]:
    for d in dependant.dependencies:
        if isinstance(d.call, Guard):
            yield d.call
        yield from _guards(d)


def route_rules(app: FastAPI) -> list[tuple[BaseRoute, Rule | None]]:
    """Every route of the app (router and app dependencies included) with the rule it declares:
    None if it declares none, or more than one."""
    found: list[tuple[BaseRoute, Rule | None]] = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, Mount):
            continue  # the static files: public
        if not isinstance(original, APIRoute):
            found.append((original, None))
            continue
        guards = list(_guards(route.dependant))
        found.append((original, guards[0].rule if len(guards) == 1 else None))
    return found


def secure(app: FastAPI) -> None:
    """Refuse an app with a route that declares no rule (or more than one), and document 401
    and 403 on every guarded route."""
    missing = []
    for route, rule in route_rules(app):
        if rule is None:
            methods = ",".join(sorted(getattr(route, "methods", None) or ()))
            missing.append(f"{methods} {getattr(route, 'path', route)}")
        elif not rule.public and not rule.gateway and isinstance(route, APIRoute):
            for status, response in AUTH_ERRORS.items():
                route.responses.setdefault(status, response)
    if missing:
        raise RuntimeError(f"routes without a declared permission: {'; '.join(missing)}")
