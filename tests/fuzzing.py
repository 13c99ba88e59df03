"""Schemathesis, driven from our own code: it generates the cases (Hypothesis strategies from the
app's OpenAPI schema) and checks the responses; we send the requests, with whatever client the
caller has (the tests' in-process one, on the test's transaction; the fuzz script's over TCP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]

# Checks that judge the response alone. Left out: the ones that send more requests through
# Schemathesis' own transport (ignored_auth, use_after_free, ensure_resource_availability: in the
# tests those would run outside the test's loop and transaction), and positive_data_acceptance
# (the schema cannot say that email-validator refuses some addresses `format: email` allows, or
# that a name of spaces is empty once stripped: those are 422s by design).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def load(openapi: dict[str, Any]) -> BaseSchema:
    return schemathesis.openapi.from_dict(openapi)


def operations(schema: BaseSchema, mode: GenerationMode) -> Iterator[Operation]:
    """The schema's operations; for negative cases, those with something to get wrong (GET
    /health takes no input: asking Hypothesis for an invalid one is Unsatisfiable)."""
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if mode == GenerationMode.POSITIVE or any(
            len(part) for part in (operation.path_parameters, operation.query, operation.headers, operation.body)
        ):
            yield operation


def request_args(case: AnyCase) -> dict[str, Any]:
    """The case as keyword arguments of ``httpx.Client.request`` (Schemathesis serialises a case
    for requests: raw bytes go in ``data``, cookies in their own argument)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    args: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"].removeprefix("http://testserver"),
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params") or {},
    }
    if "json" in kwargs:
        args["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        args["content"] = data
    elif data is not None:
        args["data"] = data
    cookies = kwargs.get("cookies")
    if cookies:  # httpx deprecates per-request cookies: send the header
        args["headers"]["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return args


def fuzz(
    schema: BaseSchema,
    send: Callable[[AnyCase], httpx.Response],
    *,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    path_parameters: dict[str, Any] | None = None,
    skip: Callable[[Operation], bool] = lambda _: False,
    seed: int | str | None = None,
) -> list[str]:
    """Run ``examples`` generated cases per operation through ``send`` and CHECKS; return one
    report per failing operation (Hypothesis stops an operation at its first failure, shrinks it,
    and the next operation runs). ``seed`` None: derandomized, the same cases every run.
    ``headers`` and ``path_parameters`` are fixed on every case (the real token: a generated one
    is a 401 before the body is looked at)."""
    failures = []
    for operation in operations(schema, mode):
        if skip(operation):
            continue
        names = {parameter.name for parameter in operation.path_parameters}
        fixed = {name: value for name, value in (path_parameters or {}).items() if name in names}

        @settings(
            max_examples=examples,
            derandomize=seed is None,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=operation.as_strategy(mode, headers=headers, path_parameters=fixed or None))
        def check(case: AnyCase) -> None:
            case.validate_response(send(case), checks=CHECKS)

        if seed is not None:
            check = hypothesis.seed(seed)(check)
        try:
            check()
        except BaseExceptionGroup as exc:
            # Schemathesis' FailureGroup (Hypothesis re-raises it, or a group of distinct ones),
            # with the shrunk example in the notes. It is a BaseExceptionGroup, not an Exception:
            # left to reach anyio's test runner it would end the session's runner task (the runner
            # re-raises what is not an Exception), failing every later test. Anything else (a
            # broken schema, Unsatisfiable, Ctrl-C) propagates.
            if exc.subgroup((KeyboardInterrupt, SystemExit)) is not None:
                raise
            notes = "\n".join(getattr(exc, "__notes__", ()))
            failures.append(f"{operation.label}, {mode} cases:\n{exc}\n{notes}")
    return failures
