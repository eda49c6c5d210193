"""Every route under a guarded path declares who may call it, through one `api/access.py`
rule (`need`, `machine` or `anyone`): none is left to a check repeated in its body."""

from __future__ import annotations

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from nurture.api import create_app
from nurture.api.access import GUARDED, Rule, rule_of
from nurture.people.roles import Role


def _rules(context: RouteContext) -> list[Rule]:
    found = []
    pending = list(context.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        rule = rule_of(dependant.call)
        if rule is not None:
            found.append(rule)
        pending.extend(dependant.dependencies)
    return found


def _guarded_routes() -> list[RouteContext]:
    contexts = iter_route_contexts(create_app().routes)
    return [
        c for c in contexts if isinstance(c.original_route, APIRoute) and c.path.startswith(GUARDED)
    ]


def test_every_guarded_route_declares_exactly_one_rule(env: dict[str, str]) -> None:
    routes = _guarded_routes()
    assert len(routes) > 20, "the walk found the routes"
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if len(_rules(r)) != 1]
    assert missing == [], f"routes without exactly one access rule: {missing}"


def test_actions_need_more_than_a_viewer(env: dict[str, str]) -> None:
    """A route that changes something is never open to viewers or to anyone at all (except
    signing in and out, which every person may)."""
    allowed_open = {"/ops/login", "/login", "/logout", "/invite/{token}"}
    for route in _guarded_routes():
        (rule,) = _rules(route)
        if route.methods & {"POST", "PUT", "PATCH", "DELETE"} and route.path not in allowed_open:
            if route.path.startswith("/account"):
                assert rule.role is Role.VIEWER  # a person's own account
                continue
            assert rule.role is not None and rule.role is not Role.VIEWER, route.path
