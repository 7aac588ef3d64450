"""One name per concept: a channel variable's constant and its value say the same thing,
from the dialplan to the route decision (RouteDecision.uniqueid is CTRACK_UNIQUEID)."""

from ctrack.core import variables
from ctrack.route.rules import RouteDecision


def test_each_constant_names_its_value():
    named = {name: value for name, value in vars(variables).items() if name.isupper() and isinstance(value, str)}
    drift = {name: value for name, value in named.items() if value.startswith("CTRACK_") and value != f"CTRACK_{name}"}
    assert drift == {}
    assert set(variables.ROUTE_VARIABLES) <= set(named.values())


def test_the_route_decision_fields_are_the_variables_names():
    fields = set(RouteDecision.__dataclass_fields__) | {n for n in dir(RouteDecision) if not n.startswith("_")}
    for value in variables.ROUTE_VARIABLES:
        name = value.removeprefix("CTRACK_").lower()
        assert name in fields or name == "route_status", name
