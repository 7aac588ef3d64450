"""FreeSWITCH's access-control list names, and what to tell an admin whose ACL refuses ctrack.

An `apply-inbound-acl` value is a list name FreeSWITCH knows (built in, or defined in
acl.conf.xml) or a CIDR. A name it does not know refuses every address, 127.0.0.1 too:
switch_check_network_list_ip finds no such list and answers no.
"""

from __future__ import annotations

import ipaddress

# Built by switch_load_network_lists (switch_core.c) at start-up, before acl.conf.xml.
BUILTIN = frozenset(
    {
        "rfc6598.auto",
        "rfc1918.auto",
        "wan.auto",
        "wan_v4.auto",
        "wan_v6.auto",
        "any_v4.auto",
        "any_v6.auto",
        "nat.auto",
        "loopback.auto",
        "localnet.auto",
    }
)


def known(value: str, admin_lists: frozenset[str] = frozenset()) -> bool:
    """Whether FreeSWITCH can apply this ACL value: a list it defines, the admin's, or CIDRs."""
    if value in BUILTIN or value in admin_lists:
        return True
    try:
        for cidr in value.split(","):
            ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return "/" in value


def refused_fix(address: str) -> str:
    """The one-line fix when mod_event_socket's apply-inbound-acl refused ctrack at `address`."""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        allow = 'set <param name="apply-inbound-acl" value="loopback.auto"/>'
    else:
        allow = f"name a list in acl.conf.xml that allows {address} (or {address}/32) in apply-inbound-acl"
    return (
        f"FreeSWITCH's apply-inbound-acl refused ctrack's address {address}: in event_socket.conf.xml "
        f"{allow} (a list name FreeSWITCH does not define, such as loopback.auth, refuses every address), "
        "then fs_cli -x 'reload mod_event_socket'"
    )
