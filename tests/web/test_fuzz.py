"""schemathesis over /openapi.json: every operation, every check, every phase, no failures.

The fuzzer gets its own platform (it decommissions meters and queues commands at random), filled
by the real headless demo. It runs in process through schemathesis' engine (the same engine as
its command line), so every phase runs: examples, coverage (the edges: 2^63 offsets, the
calendar's ends, control characters), fuzzing and stateful sequences.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import events

from bijli import settings
from bijli.access.model import Role
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints import demo
from bijli.kernel.clock import SimulatedClock
from bijli.web.app import create_app
from tests.support.access import bearer
from tests.web.conftest import DEMO_DAY, LAST_SEEN

FUZZ_HOST = "testserver"
"""The Host schemathesis sends in process; the fuzzed app allows it as an operator would (--allowed-host)."""
EXAMPLES = 40
"""Examples per operation and phase: enough to reach every rule, quick enough for every `make test`."""
CROSS_FIELD_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"""What a request valid by the document may get. schemathesis' default less 422: the rules
OpenAPI cannot say (a window's end after its start and at most 31 days on, a day or a month
for usage, a command's arguments per action) answer 422 with the documented schema."""
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
"""What a request that breaks the document may get: schemathesis' default and 413, the edge's
documented answer to a body over 64 KiB (a thousand meter ids of escaped unicode make one)."""


@pytest.fixture
def auth_headers(fuzzed_platform: Platform) -> dict[str, str]:
    """Headers that sign the fuzzer in: an admin's bearer token, so every operation is reached
    (schemathesis' ignored_auth check then also asks each one without it and wants a 401)."""
    return bearer(fuzzed_platform, Role.ADMIN, "fuzzer")


@pytest.fixture(scope="module")
def fuzzed_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    cfg = settings.build(
        data_dir=tmp_path_factory.mktemp("bijli-fuzz"), broker_url="memory", allowed_hosts=(FUZZ_HOST,), new_site=True
    )
    platform = bootstrap(cfg)
    asyncio.run(demo.run_headless(platform, meters=2, days=1, start=DEMO_DAY))
    yield platform
    platform.close()


@dataclass
class Run:
    """What the engine reported: the failures, the operations each phase tried, the errors."""

    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    tried: dict[str, set[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def fuzz(app: Any, headers: dict[str, str]) -> tuple[Run, set[str]]:
    """Run every phase and check over `app`; what happened, and the operations the document lists."""
    config = schemathesis.Config.from_dict(
        {
            "headers": headers,
            "cache": {"enabled": False},  # each run on its own, and nothing written into the checkout
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": CROSS_FIELD_422},
                "negative_data_rejection": {"expected-statuses": REJECTED},
            },
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config, headers=headers)
    documented = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    run = Run()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.tried.setdefault(event.phase.value, set()).add(event.recorder.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        key = (failure.operation or event.recorder.label, failure.title)
                        run.failures.setdefault(key, check.failure_info.code_sample)
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            run.errors.append(f"fatal: {event.exception!r}")
    return run, documented


def test_every_operation_passes_every_check(fuzzed_platform: Platform, auth_headers: dict[str, str]) -> None:
    app = create_app(fuzzed_platform, clock=SimulatedClock(LAST_SEEN))
    run, documented = fuzz(app, auth_headers)

    assert run.errors == []
    assert run.failures == {}
    # The guard: the fuzzer tried exactly the operations the document lists, in every phase
    # that takes them one by one; none fell out unseen.
    assert documented
    for phase in ("examples", "coverage", "fuzzing"):
        assert run.tried.get(phase) == documented, phase
