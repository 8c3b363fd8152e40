"""REST API v1 for onboarding: consumers registered, meters installed on accounts and replaced,
accounts closed; and the records a user made, to see. A contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from bijli.access.model import Permission
from bijli.accounts import handlers
from bijli.accounts.model import (
    ID_PATTERN,
    MAX_ADDRESS,
    MAX_AREA,
    MAX_EMAIL,
    MAX_ID,
    MAX_NAME,
    MAX_PLACE,
    MAX_REASON,
    Account,
    AccountTerms,
    Closing,
    Conflict,
    Consumer,
    Installation,
    Installing,
    Language,
    MeterSite,
    NotFound,
    Refused,
    Replacing,
    normal_mobile,
)
from bijli.kernel.time import ist_day
from bijli.kernel.units import format_rupees
from bijli.prepaid import handlers as prepaid
from bijli.web.api import PREFIX, Kwh, MeterId, Rupees
from bijli.web.auth import Auth, identity_of
from bijli.web.context import WebContext
from bijli.web.limits import CONTROL, EDGE, Moment, Problem, audit_text, invalid

Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID, examples=["KESCOCL0012345"])]
Place = Annotated[str, audit_text(MAX_PLACE, "A feeder's or transformer's code.")]
Area = Annotated[str, audit_text(MAX_AREA, "The area (subdivision) the meter is in.")]
Register = Annotated[
    str,
    Field(
        pattern=r"^\d{1,7}(\.\d{1,3})?$",
        examples=["7988.427"],
        description="An import register in kWh, exact to the Wh (up to three decimals), as on the meter's display.",
    ),
]
Amount = Annotated[
    str,
    Field(pattern=r"^\d{1,9}(\.\d{1,2})?$", examples=["500.00"], description="Rupees, up to two decimals."),
]
LoadKw = Annotated[
    str,
    Field(
        pattern=r"^\d{1,4}(\.\d{1,3})?$", examples=["2"], description="Sanctioned load in kW (up to three decimals)."
    ),
]
DaysLeft = Annotated[str, Field(pattern=r"^\d+\.\d$", examples=["3.4"], description="Days, to a tenth.")]
AccountId = Annotated[str, Path(description="The account number, e.g. KESCOCL0000001.", max_length=MAX_ID)]


def _no_bool(value: object) -> object:
    if isinstance(value, bool):  # Python's True == 1: the document says an integer
        raise ValueError("a phase is the integer 1 or 3")
    return value


Phase = Annotated[Literal[1, 3], BeforeValidator(_no_bool)]
ConsumerId = Annotated[str, Path(description="The consumer's id.", max_length=MAX_ID)]


def _milli(text: str) -> int:
    """A decimal with up to three places, in thousandths, exactly: kWh → Wh, kW → W."""
    return int(Decimal(text) * 1000)


def _paise(text: str) -> int:
    return int(Decimal(text) * 100)


def _kwh(wh: int) -> str:
    return f"{wh // 1000}.{wh % 1000:03d}"


def _kw(w: int) -> str:
    return f"{w // 1000}.{w % 1000:03d}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewConsumer(Strict):
    """A consumer to register."""

    consumer_id: Id
    name: Annotated[str, audit_text(MAX_NAME, "The consumer's name, as on the connection.")]
    mobile: Annotated[
        str,
        Field(
            max_length=20,
            pattern=r"^[0-9 +-]+$",
            examples=["+91 98123 45678"],
            description="An Indian mobile number (+91 and ten digits; spaces and a leading 0 are taken).",
        ),
    ]
    language: Literal["hi", "en"] = Field("hi", description="hi (Hindi) or en (English): messages and statements.")
    address: Annotated[str, Field(max_length=MAX_ADDRESS, pattern=rf"^[^{CONTROL}]*$")] = ""
    email: Annotated[
        str | None,
        Field(
            max_length=MAX_EMAIL,
            pattern=r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
            examples=["asha@example.in"],
            description="Optional: alerts go by e-mail too (docs/alerts.md).",
        ),
    ] = None


class AccountBrief(BaseModel):
    account_id: str
    status: Literal["active", "closed"]
    meter_id: str | None


class ConsumerOut(BaseModel):
    consumer_id: str
    name: str
    mobile: str
    language: Literal["hi", "en"]
    address: str
    email: str | None
    created_at: datetime
    accounts: list[AccountBrief]


class NewInstallation(Strict):
    """A meter put into service on an account: a new account for a registered consumer, or an
    active account without a meter."""

    account_id: Id
    consumer_id: Id
    meter_id: Id
    area: Area
    feeder: Place
    transformer: Place
    phase: Phase
    tariff_category: Annotated[str, Field(pattern=ID_PATTERN, max_length=MAX_ID, examples=["UP-LMV1-DU"])]
    sanctioned_load_kw: LoadKw
    installed_at: Moment = Field(description="When the meter went in (ISO 8601 with a time zone).")
    opening_register_kwh: Register
    opening_balance: Amount = Field("0", description="Credit the account starts with, in rupees.")
    arrears: Amount = Field("0", description="What the consumer owes from before, in rupees (not with a balance).")
    arrears_share_pct: Annotated[StrictInt | None, Field(ge=0, le=100)] = Field(
        None, description="Share of each recharge that recovers arrears; null: the utility's default."
    )


class InstallationOut(BaseModel):
    meter_id: str
    installed_at: datetime
    opening_register_kwh: Kwh
    removed_at: datetime | None
    closing_register_kwh: Kwh | None
    reason: str


class AccountOut(BaseModel):
    account_id: str
    consumer_id: str
    status: Literal["active", "closed"]
    meter_id: str | None = Field(description="The meter installed now; null once closed.")
    tariff_category: str
    sanctioned_load_kw: str
    arrears_share_pct: int | None
    opened_at: datetime
    closed_at: datetime | None
    installations: list[InstallationOut] = Field(description="The account's meters, oldest first.")
    balance: Rupees | None = Field(
        None,
        description="The prepaid balance now (the ledger less the running charges of open days); null once closed.",
    )
    days_left: DaysLeft | None = Field(
        None,
        description="Days of credit left at the account's own pace (docs/billing.md, days of credit left); 0.0 "
        "when used up; null once closed or with under three days of charges to go by.",
    )
    runs_out_on: date | None = Field(None, description="The IST day the balance reaches zero at that pace.")


class NewMeterOut(BaseModel):
    meter_id: str
    key_version: int = Field(
        description="The site key version the new meter must hold (its keys derive from it and its id)."
    )
    frame_counter: int = Field(description="Its frame counters start here (0): a new meter's first frame is 1.")


class Replacement(Strict):
    """The old meter's final reading, and the new meter put in its place on the same account."""

    final_register_kwh: Register
    new_meter_id: Id
    opening_register_kwh: Register = Field(description="The new meter's import register as installed.")
    at: Moment = Field(description="When the meters were swapped.")
    reason: Annotated[str, audit_text(MAX_REASON, "Why; kept with the old meter's installation.")]
    area: Area | None = Field(None, description="Where the new meter sits; left out: where the old one did.")
    feeder: Place | None = None
    transformer: Place | None = None
    phase: Phase | None = None


class ReplacementOut(BaseModel):
    account: AccountOut
    new_meter: NewMeterOut


class Closure(Strict):
    final_register_kwh: Register
    at: Moment = Field(description="When the meter came off and the account closed.")
    reason: Annotated[str, audit_text(MAX_REASON, "Why the account closes.")]


class FinalStatementOut(BaseModel):
    account_id: str
    closed_at: datetime
    balance: Rupees = Field(description="The prepaid balance at closure.")
    arrears: Rupees = Field(description="Arrears still owed at closure.")
    refund_due: Rupees = Field(description="Balance less arrears, when positive: paid back to the consumer.")
    arrears_due: Rupees = Field(description="Arrears less balance, when positive: still owed by the consumer.")
    account: AccountOut


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "The consumer, account or meter named is not registered."},
    409: {
        "model": Problem,
        "description": "The request does not fit the records (a meter installed elsewhere, an account with a "
        "meter already, a closed account, a consumer id taken); nothing changed.",
    },
}


def account_out(account: Account, installations: list[Installation]) -> AccountOut:
    return AccountOut(
        account_id=account.account_no,
        consumer_id=account.consumer_id,
        status=account.status.value,
        meter_id=account.meter_id,
        tariff_category=account.terms.tariff_code,
        sanctioned_load_kw=_kw(account.terms.sanctioned_load_w),
        arrears_share_pct=account.terms.arrears_share_pct,
        opened_at=account.opened_at.astimezone(UTC),
        closed_at=None if account.closed_at is None else account.closed_at.astimezone(UTC),
        installations=[
            InstallationOut(
                meter_id=i.meter_id,
                installed_at=i.installed_at.astimezone(UTC),
                opening_register_kwh=_kwh(i.opening_wh_total),
                removed_at=None if i.removed_at is None else i.removed_at.astimezone(UTC),
                closing_register_kwh=None if i.closing_wh_total is None else _kwh(i.closing_wh_total),
                reason=i.reason,
            )
            for i in installations
        ],
        balance=None,
        days_left=None,
        runs_out_on=None,
    )


def _refused(e: Refused) -> Exception:
    if isinstance(e, NotFound):
        return HTTPException(status_code=404, detail=str(e))
    if isinstance(e, Conflict):
        return HTTPException(status_code=409, detail=str(e))
    return invalid("body", "request", str(e), None)


def router(ctx: WebContext) -> APIRouter:
    """The onboarding routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "onboarding"], responses=EDGE)
    store = ctx.platform.store
    auth = Auth(ctx)
    onboarder = [Depends(auth.needs(Permission.ONBOARD))]
    fleet = [Depends(auth.needs(Permission.READ_FLEET))]

    def account(account_no: str) -> AccountOut:
        found = handlers.account_record(store, account_no)
        if found is None:
            raise HTTPException(status_code=404, detail=f"account {account_no} not found")
        out = account_out(*found)
        if out.status == "closed":
            return out
        balance = ctx.platform.queries.balance(account_no).balance_paise
        forecast = prepaid.forecasts(store, {account_no: balance}, ist_day(ctx.clock.now()))[account_no]
        return out.model_copy(
            update={
                "balance": format_rupees(balance),
                "days_left": None if forecast.days is None else str(forecast.days),
                "runs_out_on": forecast.runs_out_on,
            }
        )

    @api.post("/consumers", status_code=201, response_model=ConsumerOut, responses=ERRORS, dependencies=onboarder)
    def register_consumer(body: NewConsumer) -> ConsumerOut:
        """Register a consumer (a person or household that may hold several accounts)."""
        mobile = normal_mobile(body.mobile)
        if mobile is None:
            raise invalid("body", "mobile", "not an Indian mobile number (+91 and ten digits)", body.mobile)
        consumer = Consumer(
            consumer_id=body.consumer_id,
            name=body.name,
            mobile=mobile,
            language=Language(body.language),
            address=body.address,
            created_at=ctx.clock.now(),
            email=body.email,
        )
        try:
            handlers.register_consumer(store, consumer)
        except Refused as e:
            raise _refused(e) from e
        return consumer_out(body.consumer_id)

    def consumer_out(consumer_id: str) -> ConsumerOut:
        found = handlers.consumer_record(store, consumer_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"consumer {consumer_id} not found")
        c, accounts = found
        return ConsumerOut(
            consumer_id=c.consumer_id,
            name=c.name,
            mobile=c.mobile,
            language=c.language.value,
            address=c.address,
            email=c.email,
            created_at=c.created_at.astimezone(UTC),
            accounts=[
                AccountBrief(account_id=a.account_no, status=a.status.value, meter_id=a.meter_id) for a in accounts
            ],
        )

    @api.get("/consumers/{consumer_id}", response_model=ConsumerOut, responses=ERRORS, dependencies=fleet)
    def consumer(consumer_id: ConsumerId) -> ConsumerOut:
        """A consumer and their accounts."""
        return consumer_out(consumer_id)

    @api.post(
        "/meters",
        status_code=201,
        response_model=AccountOut,
        responses={**ERRORS, 200: {"model": AccountOut, "description": "The same meter on the same account again."}},
        dependencies=onboarder,
    )
    def install(body: NewInstallation, request: Request, response: Response) -> AccountOut:
        """Install a meter on an account of a registered consumer: a new account, or an active
        one without a meter. Its opening register is where charges count from; an opening
        balance or arrears become ledger entries. Asking again with the same body changes
        nothing (200)."""
        installing = Installing(
            account_no=body.account_id,
            consumer_id=body.consumer_id,
            meter=MeterSite(
                meter_id=body.meter_id,
                area=body.area,
                feeder=body.feeder,
                transformer=body.transformer,
                phases=body.phase,
            ),
            terms=AccountTerms(
                tariff_code=body.tariff_category,
                sanctioned_load_w=_milli(body.sanctioned_load_kw),
                arrears_share_pct=body.arrears_share_pct,
            ),
            installed_at=body.installed_at,
            opening_wh_total=_milli(body.opening_register_kwh),
            opening_balance_paise=_paise(body.opening_balance),
            arrears_paise=_paise(body.arrears),
        )
        try:
            outcome = handlers.install_meter(
                store, installing, store.tariffs, ctx.clock.now(), by=identity_of(request).name
            )
        except Refused as e:
            raise _refused(e) from e
        if outcome != "created":
            response.status_code = 200
        return account(body.account_id)

    @api.post("/meters/{meter_id}/replace", response_model=ReplacementOut, responses=ERRORS, dependencies=onboarder)
    def replace(meter_id: MeterId, body: Replacement, request: Request) -> ReplacementOut:
        """Replace a meter: its final reading closes its installation and it goes out of
        service; the new meter goes on the same account from its opening reading, with frame
        counters from zero and the keys of the site's current key version."""
        now = ctx.clock.now()
        old = handlers.meter_site(store, meter_id)
        if old is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        replacing = Replacing(
            old_meter_id=meter_id,
            closing_wh_total=_milli(body.final_register_kwh),
            new=MeterSite(
                meter_id=body.new_meter_id,
                area=body.area or old.area,
                feeder=body.feeder or old.feeder,
                transformer=body.transformer or old.transformer,
                phases=body.phase or old.phases,
            ),
            opening_wh_total=_milli(body.opening_register_kwh),
            at=body.at,
            reason=body.reason,
        )
        try:
            new = handlers.replace_meter(store, replacing, now, by=identity_of(request).name)
        except Refused as e:
            raise _refused(e) from e
        return ReplacementOut(
            account=account(new.account_no),
            new_meter=NewMeterOut(
                meter_id=new.meter_id, key_version=ctx.platform.settings.site_keys.current, frame_counter=0
            ),
        )

    @api.get("/accounts/{account_id}", response_model=AccountOut, responses=ERRORS, dependencies=fleet)
    def get_account(account_id: AccountId) -> AccountOut:
        """An account: its consumer, terms, status and every meter installed on it."""
        return account(account_id)

    @api.post(
        "/accounts/{account_id}/close",
        response_model=FinalStatementOut,
        responses=ERRORS,
        dependencies=[Depends(auth.needs(Permission.CLOSE_ACCOUNT))],
    )
    def close(account_id: AccountId, body: Closure, request: Request) -> FinalStatementOut:
        """Close an account: its meter's final reading closes the installation and the meter
        goes out of service; one ledger entry takes the prepaid balance to zero. The answer is
        the final figure: a refund due, or arrears still owed. A closed account takes no meter."""
        closing = Closing(
            account_no=account_id, closing_wh_total=_milli(body.final_register_kwh), at=body.at, reason=body.reason
        )
        try:
            statement = handlers.close_account(store, closing, ctx.clock.now(), by=identity_of(request).name)
        except Refused as e:
            raise _refused(e) from e
        settled = statement.settlement_paise
        return FinalStatementOut(
            account_id=account_id,
            closed_at=body.at.astimezone(UTC),
            balance=format_rupees(statement.balance_paise),
            arrears=format_rupees(statement.arrears_paise),
            refund_due=format_rupees(max(settled, 0)),
            arrears_due=format_rupees(max(-settled, 0)),
            account=account(account_id),
        )

    return api
